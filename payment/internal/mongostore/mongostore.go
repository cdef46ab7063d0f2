// Package mongostore keeps payments in MongoDB (or the embedded engine): the
// payments collection and the payment-events outbox of payments-db, written
// together in one transaction.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/aggregate"
	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

// Names of the database and collections (the blueprint's).
const (
	Database         = "payments-db"
	Payments         = "payments"
	OutboxCollection = "payment-events"
)

// Store implements payment.Store.
type Store struct {
	client   *mongotx.Client
	payments lungo.ICollection
	outbox   *outbox.Outbox
	docs     aggregate.Collection[paymentDoc]
}

// New returns a Store on db.
func New(client *mongotx.Client, db lungo.IDatabase) *Store {
	s := &Store{client: client, payments: db.Collection(Payments), outbox: outbox.Open(db, OutboxCollection)}
	s.docs = aggregate.Collection[paymentDoc]{
		Client: client, Docs: s.payments, Outbox: s.outbox,
		Version: func(d *paymentDoc) *int64 { return &d.Version },
	}
	return s
}

// EnsureIndexes creates the indexes; one payment per customer registration
// is enforced by a unique index.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	_, err := s.payments.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "customerId", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		return fmt.Errorf("payments: create index: %w", err)
	}
	return s.outbox.EnsureIndexes(ctx)
}

type paymentDoc struct {
	ID         string      `bson:"_id"`
	CustomerID string      `bson:"customerId"`
	Payer      payerDoc    `bson:"payer"`
	Payee      payeeDoc    `bson:"payee"`
	Amount     money.Cents `bson:"amount"`
	Authorized bool        `bson:"authorized"`
	Status     string      `bson:"status"`
	Reason     string      `bson:"reason,omitempty"`
	CreatedAt  time.Time   `bson:"createdAt"`
	UpdatedAt  time.Time   `bson:"updatedAt"`
	Version    int64       `bson:"version"`
}

type payerDoc struct {
	Name       string `bson:"name"`
	CardNumber string `bson:"cardNumber"`
}

type payeeDoc struct {
	Name        string `bson:"name"`
	BankAccount string `bson:"bankAccount"`
	BankName    string `bson:"bankName"`
}

func toDoc(p payment.Payment) paymentDoc {
	return paymentDoc{
		ID:         p.ID,
		CustomerID: p.CustomerID,
		Payer:      payerDoc{Name: p.Payer.Name, CardNumber: p.Payer.CardNumber},
		Payee:      payeeDoc{Name: p.Payee.Name, BankAccount: p.Payee.BankAccount, BankName: p.Payee.BankName},
		Amount:     p.Amount,
		Authorized: p.Authorized(),
		Status:     string(p.Status),
		Reason:     p.Reason,
		CreatedAt:  p.CreatedAt,
		UpdatedAt:  p.UpdatedAt,
	}
}

func fromDoc(d paymentDoc) payment.Payment {
	return payment.Payment{
		ID:         d.ID,
		CustomerID: d.CustomerID,
		Payer:      payment.Payer{Name: d.Payer.Name, CardNumber: d.Payer.CardNumber},
		Payee:      payment.Payee{Name: d.Payee.Name, BankAccount: d.Payee.BankAccount, BankName: d.Payee.BankName},
		Amount:     d.Amount,
		Status:     payment.Status(d.Status),
		Reason:     d.Reason,
		CreatedAt:  d.CreatedAt.UTC(),
		UpdatedAt:  d.UpdatedAt.UTC(),
	}
}

func toOutbox(paymentID string, evts []payment.Event) []outbox.Event {
	out := make([]outbox.Event, len(evts))
	for i, e := range evts {
		out[i] = outbox.New(paymentevents.AggregateType, paymentID, e.Type, e.Payload)
	}
	return out
}

// Create inserts a payment and its events in one transaction.
func (s *Store) Create(ctx context.Context, p payment.Payment, evts ...payment.Event) error {
	return s.client.Transact(ctx, func(ctx context.Context) error {
		_, err := s.payments.InsertOne(ctx, toDoc(p))
		if mongotx.IsDuplicateKey(err) {
			return fmt.Errorf("%w: customer %s", payment.ErrAlreadyDecided, p.CustomerID)
		}
		if err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		return s.outbox.Append(ctx, toOutbox(p.ID, evts)...)
	})
}

// UpdateForCustomer changes the customer's payment and appends its events in
// one transaction, by aggregate.Update's rule: written only when fn returns
// events. The version check turns a concurrent update into an error.
func (s *Store) UpdateForCustomer(ctx context.Context, customerID string, fn func(*payment.Payment) ([]payment.Event, error)) error {
	err := s.docs.Update(ctx, "payment of customer "+customerID, bson.M{"customerId": customerID}, func(d *paymentDoc) ([]outbox.Event, error) {
		p := fromDoc(*d)
		evts, err := fn(&p)
		if err != nil {
			return nil, err
		}
		*d = toDoc(p)
		return toOutbox(d.ID, evts), nil
	})
	if errors.Is(err, aggregate.ErrNotFound) {
		return fmt.Errorf("%w: customer %s", payment.ErrNotFound, customerID)
	}
	return err
}

// ForCustomer lists a customer's payments, oldest first.
func (s *Store) ForCustomer(ctx context.Context, customerID string) ([]payment.Payment, error) {
	cur, err := s.payments.Find(ctx, bson.M{"customerId": customerID}, options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find payments of customer %s: %w", customerID, err)
	}
	var docs []paymentDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read payments of customer %s: %w", customerID, err)
	}
	out := make([]payment.Payment, len(docs))
	for i, d := range docs {
		out[i] = fromDoc(d)
	}
	return out, nil
}
