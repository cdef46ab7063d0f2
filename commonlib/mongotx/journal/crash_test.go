package journal_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx/journal"
)

// crashChildEnv makes the test binary the writer that TestKillNineLosesNothing kills.
const crashChildEnv = "JOURNAL_CRASH_CHILD_DIR"

// TestKillNineLosesNothing kills a real process with SIGKILL at random
// instants while it commits registrations (a customer and its outbox event
// in one transaction) and compacts every few hundred commits, then checks
// that every commit the process was told about is there, whole, and that
// no commit is there by half. JOURNAL_CRASH_KILLS sets the number of kills
// (default 15; make soak runs more).
func TestKillNineLosesNothing(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts processes: skipped with -short")
	}
	kills := 15
	if s := os.Getenv("JOURNAL_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineLosesNothing$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "JOURNAL_CRASH_START="+strconv.Itoa(k*1_000_000))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it get going (open, replay), then kill it at a random instant.
		first, ok := <-lines
		if !ok || first != "ready" {
			_ = cmd.Wait()
			t.Fatalf("kill %d: writer did not start (got %q)", k, first)
		}
		time.Sleep(time.Duration(20+rand.IntN(250)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		n := 0
		for line := range lines {
			if id, ok := strings.CutPrefix(line, "ack "); ok {
				acked[id] = true
				n++
			}
		}
		_ = cmd.Wait()
		if n == 0 {
			t.Fatalf("kill %d: no commit acknowledged before the kill", k)
		}
	}
	customers, outbox := readBack(t, dir)
	lost := 0
	for id := range acked {
		if !customers[id] || !outbox[id] {
			lost++
		}
	}
	half := 0
	for id := range customers {
		if !outbox[id] {
			half++
		}
	}
	for id := range outbox {
		if !customers[id] {
			half++
		}
	}
	t.Logf("%d kills, %d acknowledged registrations checked, %d lost, %d half-written, %d stored", kills, len(acked), lost, half, len(customers))
	if lost > 0 || half > 0 {
		t.Fatalf("lost %d acknowledged registrations, %d half-written", lost, half)
	}
}

func readBack(t *testing.T, dir string) (customers, outbox map[string]bool) {
	t.Helper()
	c, closeFn := open(t, dir, 64<<10, nil)
	defer closeFn()
	ctx := context.Background()
	ids := func(coll string, field string) map[string]bool {
		cur, err := c.Database("app").Collection(coll).Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, d := range docs {
			m[d[field].(string)] = true
		}
		return m
	}
	return ids("customers", "_id"), ids("outbox", "aggregateid")
}

// crashChild commits registrations until it is killed, printing "ack ID"
// after each commit returned.
func crashChild(dir string) {
	j, err := journal.Open(journal.Options{Dir: dir, CompactMin: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	client, _, err := lungo.Open(context.Background(), lungo.Options{Store: j, MinOplogSize: 100, MaxOplogSize: 100, MinOplogAge: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	start, _ := strconv.Atoi(os.Getenv("JOURNAL_CRASH_START"))
	fmt.Println("ready")
	db := client.Database("app")
	pad := strings.Repeat("x", 300)
	for i := start; ; i++ {
		id := fmt.Sprintf("c%09d", i)
		err := client.UseSession(context.Background(), func(sc lungo.ISessionContext) error {
			_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (any, error) {
				if _, err := db.Collection("customers").InsertOne(tc, bson.M{"_id": id, "status": "REGISTRATION_PENDING", "pad": pad}); err != nil {
					return nil, err
				}
				return db.Collection("outbox").InsertOne(tc, bson.M{"aggregateid": id, "type": "CustomerCreated", "payload": pad})
			})
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		if i%3 == 0 {
			_, _ = db.Collection("customers").UpdateOne(context.Background(), bson.M{"_id": id}, bson.M{"$set": bson.M{"status": "REGISTRATION_SUCCESS"}})
		}
		fmt.Println("ack " + id)
	}
}
