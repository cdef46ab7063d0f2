package mongotx_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
)

// TestDiskFullIsUnavailableNotFatal fills a small tmpfs under the embedded
// store: a commit that cannot be written fails as unavailable (retry later,
// never a permanent error), health says the store is down, nothing of the
// failed commit remains, and writes resume once space is back.
func TestDiskFullIsUnavailableNotFatal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	ctx := context.Background()
	dir := filepath.Join(mnt, "store")
	onTmpfs := func(o *mongotx.Options) { o.Dir = dir }
	client := mongotest.Open(t, onTmpfs).Client
	coll := client.Database("app").Collection("c")
	insert := func(i int) error {
		return client.Transact(ctx, func(ctx context.Context) error {
			_, err := coll.InsertOne(ctx, bson.M{"_id": fmt.Sprint(i), "pad": strings.Repeat("x", 4000)})
			return err
		})
	}
	// A filler file takes the rest of the space, to be deleted later.
	filler := filepath.Join(mnt, "filler")
	_ = os.WriteFile(filler, make([]byte, 1500<<10), 0o600)

	acked := 0
	var full error
	for i := 0; i < 10_000; i++ {
		if err := insert(i); err != nil {
			full = err
			break
		}
		acked++
	}
	if full == nil {
		t.Fatal("the disk never filled")
	}
	if !mongotx.IsUnavailable(full) {
		t.Fatalf("commit on a full disk: %v, want an error IsUnavailable recognises", full)
	}
	if err := client.Ping(ctx); err == nil {
		t.Fatal("Ping says the store is up while it cannot write")
	}
	if err := insert(acked); !mongotx.IsUnavailable(err) {
		t.Fatalf("retry while full: %v, want unavailable", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(ctx); err != nil {
		t.Fatalf("Ping after space came back: %v", err)
	}
	if err := insert(acked); err != nil {
		t.Fatalf("write after space came back: %v", err)
	}
	acked++
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}

	client = mongotest.Open(t, onTmpfs).Client
	n, err := client.Database("app").Collection("c").CountDocuments(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(acked) {
		t.Fatalf("after reopen %d documents, want the %d acknowledged", n, acked)
	}
}
