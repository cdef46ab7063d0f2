package mongotx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
)

// BenchmarkInsertAtSize measures the embedded store's raw rate of
// single-insert transactions (one ~1 KB document each, committed durably)
// in a collection that already holds n such documents: the limit under
// every saga step. Its cost must not grow with n.
func BenchmarkInsertAtSize(b *testing.B) {
	for _, n := range []int{0, 2_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("stored=%d", n), func(b *testing.B) {
			ctx := context.Background()
			client := mongotest.Open(b).Client
			coll := client.Database("bench").Collection("docs")
			for done := 0; done < n; {
				batch := make([]any, 0, 1000)
				for ; len(batch) < cap(batch) && done < n; done++ {
					batch = append(batch, benchDoc(done))
				}
				err := client.Transact(ctx, func(ctx context.Context) error {
					_, err := coll.InsertMany(ctx, batch)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				err := client.Transact(ctx, func(ctx context.Context) error {
					_, err := coll.InsertOne(ctx, benchDoc(n+i))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// benchDoc is shaped like a customer document, about 1 KB in BSON.
func benchDoc(i int) bson.D {
	now := time.Now().UTC()
	return bson.D{
		{Key: "_id", Value: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)},
		{Key: "firstName", Value: "John"},
		{Key: "lastName", Value: "Doe"},
		{Key: "status", Value: "REGISTRATION_PENDING"},
		{Key: "card", Value: bson.D{
			{Key: "last4", Value: "7890"},
			{Key: "holderName", Value: "John Doe"},
			{Key: "validThru", Value: "2030-05-04"},
			{Key: "balance", Value: "100.00"},
		}},
		{Key: "note", Value: strings.Repeat("x", 700)},
		{Key: "version", Value: int64(1)},
		{Key: "createdAt", Value: now},
		{Key: "updatedAt", Value: now},
	}
}
