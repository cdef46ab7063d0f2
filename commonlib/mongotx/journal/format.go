package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Every file starts with an 8-byte magic naming its kind and version, then
// holds records framed as
//
//	length  uint32, little endian: bytes of payload
//	crc     uint32, little endian: CRC-32C (Castagnoli) of payload
//	payload a BSON document
//
// so a torn write (a short record) and a flipped bit (a checksum mismatch)
// are both detected.
const (
	journalMagic  = "SAGAJRN1"
	snapshotMagic = "SAGASNP1"
	headerSize    = 8
	frameSize     = 8
	// maxRecord bounds a record's length so a corrupted length cannot make
	// the reader allocate gigabytes.
	maxRecord = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame appends payload's framing and payload to buf.
func frame(buf, payload []byte) []byte {
	var h [frameSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(payload, castagnoli))
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

// errTorn says a record is incomplete or fails its checksum.
var errTorn = errors.New("torn or corrupted record")

// reader reads framed records, keeping the offset of the end of the last
// good one.
type reader struct {
	r      io.Reader
	offset int64
}

// next returns the next record's payload, io.EOF at a clean end, or an
// error wrapping errTorn.
func (rd *reader) next() ([]byte, error) {
	var h [frameSize]byte
	n, err := io.ReadFull(rd.r, h[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes of a record header", errTorn, n)
	}
	length := binary.LittleEndian.Uint32(h[0:4])
	if length > maxRecord {
		return nil, fmt.Errorf("%w: record length %d", errTorn, length)
	}
	payload := make([]byte, length)
	if n, err := io.ReadFull(rd.r, payload); err != nil {
		return nil, fmt.Errorf("%w: %d of %d payload bytes", errTorn, n, length)
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(h[4:8]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errTorn)
	}
	rd.offset += frameSize + int64(length)
	return payload, nil
}
