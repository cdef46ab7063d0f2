package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
)

// positionInterval bounds how stale the stored resume token gets while the
// database changes but its outbox does not.
const positionInterval = 5 * time.Second

// checkpointInterval bounds how often the position is stored while outbox
// events flow. Each store is a write to the followed database (a
// transaction with its own fsync on the embedded engine), so storing after
// every batch would double the write load under traffic; a crash costs at most
// this interval of duplicates, never a loss. Run stores the last
// acknowledged position when it stops.
const checkpointInterval = time.Second

// storeTimeout bounds the position write that follows an acknowledged batch,
// which is done even when Run's context is cancelled.
const storeTimeout = 10 * time.Second

// position is the relay's stored progress.
type position struct {
	ResumeToken      bson.Raw
	PublishedThrough time.Time
}

type storedPosition struct {
	ID               string    `bson:"_id"`
	ResumeToken      bson.Raw  `bson:"resumeToken,omitempty"`
	PublishedThrough time.Time `bson:"publishedThrough,omitempty"`
	UpdatedAt        time.Time `bson:"updatedAt"`
}

// PublishedThrough returns the newest createdAt among the events Kafka
// acknowledged, as stored with the relay's position; zero if none. A
// retention job may purge outbox events created CommitMargin before it
// (events commit roughly, not strictly, in createdAt order). It reads the
// store, so it also answers while Run is not running.
func (r *Relay) PublishedThrough(ctx context.Context) (time.Time, error) {
	pos, err := r.loadPosition(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return pos.PublishedThrough, nil
}

func (r *Relay) loadPosition(ctx context.Context) (position, error) {
	var sp storedPosition
	err := r.db.Collection(PositionCollection).FindOne(ctx, bson.D{{Key: "_id", Value: r.cfg.Name}}).Decode(&sp)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return position{}, nil
	}
	if err != nil {
		return position{}, fmt.Errorf("relay: load position: %w", err)
	}
	pos := position{ResumeToken: sp.ResumeToken}
	if !sp.PublishedThrough.IsZero() {
		pos.PublishedThrough = sp.PublishedThrough.UTC()
	}
	return pos, nil
}

// storePosition writes token (nil while sweeping: no resumable position)
// and the in-memory published-through mark.
func (r *Relay) storePosition(ctx context.Context, token bson.Raw) error {
	doc := bson.D{{Key: "_id", Value: r.cfg.Name}}
	if token != nil {
		doc = append(doc, bson.E{Key: "resumeToken", Value: token})
	}
	if !r.pos.PublishedThrough.IsZero() {
		doc = append(doc, bson.E{Key: "publishedThrough", Value: r.pos.PublishedThrough})
	}
	doc = append(doc, bson.E{Key: "updatedAt", Value: mongotx.Now()})
	_, err := r.db.Collection(PositionCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: r.cfg.Name}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("relay: store position: %w", err)
	}
	r.pos.ResumeToken = token
	r.lastStore = time.Now()
	r.unstored = nil
	return nil
}

// storeUnstored stores the position of acknowledged batches that
// checkpointInterval held back; called when following stops.
func (r *Relay) storeUnstored(ctx context.Context) {
	if r.unstored == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := r.storePosition(sctx, r.unstored); err != nil {
		r.log.Warn("could not store the last position; the next start republishes since the previous one", "err", err)
	}
}
