package mongokit

import (
	"fmt"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

const testDB = "test-lungo-mongokit"

var testMongoClient *mongo.Client

var testCollCounter = 0

// Patched (saga-outbox platform): the comparisons with a real MongoDB run
// only when LUNGO_TEST_MONGODB names one (e.g. mongodb://localhost).
func init() {
	uri := os.Getenv("LUNGO_TEST_MONGODB")
	if uri == "" {
		return
	}
	mongoClient, err := mongo.Connect(nil, options.Client().ApplyURI(uri))
	if err != nil {
		panic(err)
	}

	err = mongoClient.Database(testDB).Drop(nil)
	if err != nil {
		panic(err)
	}

	testMongoClient = mongoClient
}

func skipWithoutMongo(t *testing.T) {
	if testMongoClient == nil {
		t.Skip("set LUNGO_TEST_MONGODB to compare with a real MongoDB")
	}
}

func testCollection() *mongo.Collection {
	testCollCounter++
	name := fmt.Sprintf("n-%d", testCollCounter)
	return testMongoClient.Database(testDB).Collection(name)
}

func convertArray(array []interface{}) bson.A {
	a := make(bson.A, 0, len(array))
	for _, item := range array {
		if arr, ok := item.([]interface{}); ok {
			item = convertArray(arr)
		}

		a = append(a, item)
	}
	return a
}
