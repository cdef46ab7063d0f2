// Package journal persists the embedded engine (lungo) so that a commit
// costs what it changes, not what the store holds: a snapshot of the whole
// catalog plus an append-only journal of each commit's changes, compacted
// into a new snapshot in the background once the journal outgrows a
// quarter of the snapshot.
//
// Durability: Commit returns only after the commit's record is written and
// fsynced, so a commit that returned survives a kill -9 at any instant.
// Records and snapshots carry CRC-32C checksums. On open, a torn or
// corrupted tail of the newest journal (a write cut short by a crash) is
// dropped with a log line naming what was dropped; anything else that
// fails its checksum (a snapshot, an older journal) stops the open with an
// error, never a silently emptier store.
//
// A store that cannot write (disk full, any I/O error) reports
// *UnavailableError from Commit and from Check until a write succeeds
// again; the commit that failed leaves no trace (the engine keeps its
// previous catalog and the journal is cut back to its last good record).
//
// The directory is locked for the process (flock): a second process on the
// same directory is refused instead of each losing the other's writes.
//
// Files in the directory: LOCK; snapshot-<gen>.snap, the catalog at the
// start of journal-<gen>.log; journal-<gen>.log, the commits since.
// A store.bson of lungo's FileStore (the format before this package) is
// migrated into a first snapshot on open.
//
// It does not decide what a commit contains: the engine does (lungo.Journal).
package journal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/256dpi/lungo"
)

// DefaultCompactMin is the journal size below which no compaction starts,
// whatever the snapshot's size.
const DefaultCompactMin = 8 << 20

// compactRatio sets when a compaction starts: once the journal holds
// 1/compactRatio of the snapshot's bytes. A journal byte costs about four
// times a snapshot byte to load (each change is applied in order, indexes
// updated one document at a time), so a start after a crash, which replays
// the journal, stays within about twice a start after a clean stop. A
// compaction costs one snapshot write.
const compactRatio = 4

// Options configures Open.
type Options struct {
	// Dir holds the files; created if missing.
	Dir string
	// Log receives the lines about dropped tails, migrations and
	// compactions. Nil discards them.
	Log *slog.Logger
	// CompactMin overrides DefaultCompactMin (tests).
	CompactMin int64
}

// UnavailableError says the store could not write: the commit did not
// happen, and retrying later may succeed (space freed, disk back).
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "store cannot write: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Store is a lungo.Journal over a directory.
type Store struct {
	dir        string
	log        *slog.Logger
	compactMin int64
	unlock     func() error

	mu       sync.Mutex
	gen      uint64   // generation of the journal being appended to
	file     *os.File // that journal
	size     int64    // its bytes up to the end of the last good record
	snapSize int64    // bytes of the newest snapshot
	broken   error    // the last write error, until a write succeeds
	failed   int      // bytes of the record that failed
	closed   bool

	compacting bool
	nextTry    time.Time // after a failed compaction
	compactWG  sync.WaitGroup

	loaded *lungo.Catalog // the catalog Load returns, read once
	latest *lungo.Catalog // the catalog the journal's records end at
}

var _ lungo.Journal = (*Store)(nil)

// Open locks dir and reads its snapshot and journals; Load then returns
// the catalog they hold.
func Open(opts Options) (*Store, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	unlock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: opts.Dir, log: log, compactMin: opts.CompactMin, unlock: unlock}
	if s.compactMin <= 0 {
		s.compactMin = DefaultCompactMin
	}
	if err := s.open(); err != nil {
		_ = unlock()
		return nil, err
	}
	return s, nil
}

func (s *Store) open() error {
	if err := s.migrate(); err != nil {
		return err
	}
	snaps, journals, err := s.listFiles()
	if err != nil {
		return err
	}
	catalog := lungo.NewCatalog()
	var base uint64
	if len(snaps) > 0 {
		base = snaps[len(snaps)-1]
		path := s.path("snapshot", base)
		catalog, err = readSnapshot(path)
		if err != nil {
			return fmt.Errorf("snapshot %s is unreadable (%w): the store cannot be opened; restore the directory from a backup, or move it away to start empty", path, err)
		}
		if st, err := os.Stat(path); err == nil {
			s.snapSize = st.Size()
		}
	}
	// Journals older than the snapshot were compacted into it.
	var replay []uint64
	for _, g := range journals {
		if g >= base {
			replay = append(replay, g)
		}
	}
	for i, g := range replay {
		if want := max(base, 1) + uint64(i); g != want {
			return fmt.Errorf("journal %s is missing (found %s): the store cannot be opened", s.path("journal", want), s.path("journal", g))
		}
	}
	rp := newReplayer(catalog)
	for i, g := range replay {
		last := i == len(replay)-1
		size, err := s.replayJournal(rp, g, last)
		if err != nil {
			return err
		}
		if last {
			s.gen, s.size = g, size
		}
	}
	if s.gen == 0 {
		s.gen = max(base, 1)
		if err := s.createJournal(s.gen); err != nil {
			return err
		}
		s.size = headerSize
	}
	s.file, err = os.OpenFile(s.path("journal", s.gen), os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	s.loaded, s.latest = rp.catalog, rp.catalog
	rp.observeClock()
	s.removeOlder(base)
	return nil
}

// replayJournal applies journal gen's records; in the newest journal a
// torn tail is cut off and logged, elsewhere it is an error. It returns the
// size up to the last good record.
func (s *Store) replayJournal(rp *replayer, gen uint64, newest bool) (int64, error) {
	path := s.path("journal", gen)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	magic := make([]byte, headerSize)
	if n, _ := io.ReadFull(f, magic); n < headerSize || string(magic) != journalMagic {
		if newest && n < headerSize && st.Size() < headerSize {
			// Created and cut off before its header was synced.
			return s.rewriteHeader(path)
		}
		return 0, fmt.Errorf("journal %s does not start with %q: not a journal of this version", path, journalMagic)
	}
	rd := &reader{r: bufReader(f), offset: headerSize}
	records := 0
	for {
		payload, err := rd.next()
		if err == io.EOF {
			return rd.offset, nil
		}
		if err != nil {
			if !newest {
				return 0, fmt.Errorf("journal %s: record %d at offset %d: %w: the store cannot be opened", path, records+1, rd.offset, err)
			}
			dropped := st.Size() - rd.offset
			s.log.Warn("dropping the torn tail of the journal (a write cut short by a crash or a corrupted block)",
				"journal", path, "offset", rd.offset, "bytes_dropped", dropped, "records_kept", records, "reason", err)
			if err := os.Truncate(path, rd.offset); err != nil {
				return 0, fmt.Errorf("cut the torn tail of %s: %w", path, err)
			}
			return rd.offset, nil
		}
		if err := rp.apply(payload); err != nil {
			return 0, fmt.Errorf("journal %s: record %d at offset %d: %w: the store cannot be opened", path, records+1, rd.offset, err)
		}
		records++
	}
}

func (s *Store) rewriteHeader(path string) (int64, error) {
	if err := writeFileSync(path, []byte(journalMagic)); err != nil {
		return 0, err
	}
	return headerSize, nil
}

// Load returns the catalog read by Open.
func (s *Store) Load() (*lungo.Catalog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded == nil {
		return nil, errors.New("journal: Load called twice")
	}
	c := s.loaded
	s.loaded = nil
	return c, nil
}

// Store is lungo's whole-catalog write, which the engine does not call on
// a Journal.
func (s *Store) Store(*lungo.Catalog) error {
	return errors.New("journal: Store is not used; the engine calls Commit")
}

// Commit appends the commit's changes and fsyncs them before returning.
func (s *Store) Commit(durable, written, cleaned *lungo.Catalog) error {
	payload, err := encodeCommit(durable, written, cleaned)
	if err != nil {
		return fmt.Errorf("journal: encode commit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("journal: closed")
	}
	if err := s.append(payload); err != nil {
		return err
	}
	s.latest = cleaned
	s.maybeCompact(cleaned)
	return nil
}

// append writes one record at the end of the last good one and syncs it;
// on failure the journal is cut back so the failed record leaves no trace.
func (s *Store) append(payload []byte) error {
	if s.broken != nil {
		if err := s.file.Truncate(s.size); err != nil {
			s.broken = err
			return &UnavailableError{Err: err}
		}
	}
	buf := frame(make([]byte, 0, frameSize+len(payload)), payload)
	_, err := s.file.WriteAt(buf, s.size)
	if err == nil {
		err = s.file.Sync()
	}
	if err != nil {
		s.broken, s.failed = err, len(buf)
		_ = s.file.Truncate(s.size) // retried before the next write
		return &UnavailableError{Err: err}
	}
	if s.broken != nil {
		s.log.Info("store can write again", "after", s.broken)
		s.broken = nil
	}
	s.size += int64(len(buf))
	return nil
}

// Check reports whether the store can write. After a failed write it
// probes with a record as large as the one that failed (then cuts it off
// again), so that health recovers when space is back even with no traffic,
// and not before.
func (s *Store) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("journal: closed")
	}
	if s.broken == nil {
		return nil
	}
	probe := make([]byte, max(s.failed, frameSize))
	_, err := s.file.WriteAt(probe, s.size)
	if err == nil {
		err = s.file.Sync()
	}
	if terr := s.file.Truncate(s.size); err == nil {
		err = terr
	}
	if err != nil {
		return &UnavailableError{Err: err}
	}
	s.log.Info("store can write again", "after", s.broken)
	s.broken = nil
	return nil
}

// closeCompactMin is the journal size above which Close compacts, so that
// the next start loads a snapshot instead of replaying the journal.
const closeCompactMin = 1 << 20

// Close waits for a running compaction, compacts a journal larger than
// closeCompactMin (a graceful stop then starts fast; a failure only leaves
// the journal to replay), then closes the journal and releases the
// directory.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.compactWG.Wait()
	if s.size > closeCompactMin && s.broken == nil && s.latest != nil {
		s.compactNow()
	}
	err := s.file.Close()
	if uerr := s.unlock(); err == nil {
		err = uerr
	}
	return err
}

// compactNow writes the latest catalog as the snapshot of a new, empty
// journal. Called by Close, after the last commit.
func (s *Store) compactNow() {
	start := time.Now()
	next := s.gen + 1
	if err := s.createJournal(next); err != nil {
		s.log.Error("compaction at close: create the next journal", "err", err)
		return
	}
	size, err := writeSnapshot(s.path("snapshot", next), s.latest)
	if err != nil {
		// journal-<next> is empty and snapshot-<next> absent: the next
		// start replays the older journals, then this empty one.
		s.log.Error("compaction at close failed; the journal is kept", "err", err)
		return
	}
	s.removeOlder(next)
	s.log.Info("store compacted at close", "snapshot", s.path("snapshot", next), "bytes", size, "took", time.Since(start).Round(time.Millisecond))
}

// maybeCompact starts a compaction when the journal outgrew
// 1/compactRatio of the snapshot:
// commits go on into a new journal while the catalog as of the switch is
// written as the new journal's snapshot. Called with s.mu held.
func (s *Store) maybeCompact(catalog *lungo.Catalog) {
	if s.compacting || s.size < max(s.snapSize/compactRatio, s.compactMin) || time.Now().Before(s.nextTry) {
		return
	}
	next := s.gen + 1
	if err := s.createJournal(next); err != nil {
		s.log.Error("compaction: create the next journal", "err", err)
		s.nextTry = time.Now().Add(time.Minute)
		return
	}
	f, err := os.OpenFile(s.path("journal", next), os.O_RDWR, 0o600)
	if err != nil {
		s.log.Error("compaction: open the next journal", "err", err)
		s.nextTry = time.Now().Add(time.Minute)
		return
	}
	_ = s.file.Close()
	s.file, s.gen, s.size = f, next, headerSize
	s.compacting = true
	s.compactWG.Add(1)
	go func() {
		defer s.compactWG.Done()
		start := time.Now()
		size, err := writeSnapshot(s.path("snapshot", next), catalog)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.compacting = false
		if err != nil {
			// The journals still hold everything; try again later.
			s.log.Error("compaction failed; the journals are kept", "snapshot", s.path("snapshot", next), "err", err)
			s.nextTry = time.Now().Add(time.Minute)
			return
		}
		s.snapSize = size
		s.removeOlder(next)
		s.log.Info("store compacted", "snapshot", s.path("snapshot", next), "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	}()
}

// createJournal creates journal gen with its header, durably.
func (s *Store) createJournal(gen uint64) error {
	if err := writeFileSync(s.path("journal", gen), []byte(journalMagic)); err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	return syncDir(s.dir)
}

// removeOlder deletes snapshots and journals older than gen, and leftover
// temporary files: what compaction into snapshot gen made redundant.
func (s *Store) removeOlder(gen uint64) {
	snaps, journals, err := s.listFiles()
	if err != nil {
		return
	}
	for _, g := range snaps {
		if g < gen {
			_ = os.Remove(s.path("snapshot", g))
		}
	}
	for _, g := range journals {
		if g < gen {
			_ = os.Remove(s.path("journal", g))
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(s.dir, "*.tmp"))
	for _, t := range tmps {
		if !s.compacting {
			_ = os.Remove(t)
		}
	}
}

func (s *Store) path(kind string, gen uint64) string {
	ext := ".log"
	if kind == "snapshot" {
		ext = ".snap"
	}
	return filepath.Join(s.dir, fmt.Sprintf("%s-%016d%s", kind, gen, ext))
}

// listFiles returns the generations of the snapshots and journals, sorted.
func (s *Store) listFiles() (snaps, journals []uint64, err error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		for kind, ext := range map[string]string{"snapshot": ".snap", "journal": ".log"} {
			rest, ok := strings.CutPrefix(name, kind+"-")
			if !ok || !strings.HasSuffix(rest, ext) {
				continue
			}
			g, err := strconv.ParseUint(strings.TrimSuffix(rest, ext), 10, 64)
			if err != nil {
				continue
			}
			if kind == "snapshot" {
				snaps = append(snaps, g)
			} else {
				journals = append(journals, g)
			}
		}
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i] < snaps[j] })
	sort.Slice(journals, func(i, j int) bool { return journals[i] < journals[j] })
	return snaps, journals, nil
}

// legacyFile is lungo FileStore's file, the format before this package.
const legacyFile = "store.bson"

// migrate turns a legacy store.bson into a first snapshot.
func (s *Store) migrate() error {
	legacy := filepath.Join(s.dir, legacyFile)
	if _, err := os.Stat(legacy); err != nil {
		return nil
	}
	snaps, journals, err := s.listFiles()
	if err != nil {
		return err
	}
	if len(snaps) > 0 || len(journals) > 0 {
		return fmt.Errorf("%s holds both %s (the old format) and journal files: move %s away if it was already migrated", s.dir, legacyFile, legacy)
	}
	catalog, err := lungo.NewFileStore(legacy, 0o600).Load()
	if err != nil {
		return fmt.Errorf("migrate %s: %w: move it away to start with an empty store", legacy, err)
	}
	if _, err := writeSnapshot(s.path("snapshot", 1), catalog); err != nil {
		return fmt.Errorf("migrate %s: %w", legacy, err)
	}
	if err := s.createJournal(1); err != nil {
		return err
	}
	if err := os.Remove(legacy); err != nil {
		return fmt.Errorf("migrate %s: remove the old file: %w", legacy, err)
	}
	s.log.Info("store migrated from the old single-file format", "from", legacy, "to", s.path("snapshot", 1))
	return syncDir(s.dir)
}
