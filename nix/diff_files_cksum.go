package nix

import (
	"io"
	"os"
)

// cksumTable is CRC-32 with polynomial 0x04C11DB7, most significant bit
// first, as POSIX cksum(1) uses it (hash/crc32 only does the reflected form).
var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// cksum computes the POSIX cksum of data read incrementally.
type cksum struct {
	crc uint32
	n   int64
}

func (c *cksum) Write(p []byte) (int, error) {
	for _, b := range p {
		c.crc = c.crc<<8 ^ cksumTable[byte(c.crc>>24)^b]
	}
	c.n += int64(len(p))
	return len(p), nil
}

// Sum finishes the checksum: the length goes in, least significant byte
// first, then the result is inverted.
func (c *cksum) Sum() FileSum {
	crc := c.crc
	for n := c.n; n > 0; n >>= 8 {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^byte(n)]
	}
	return FileSum{CRC: ^crc, Size: c.n}
}

func cksumFile(p string) (FileSum, error) {
	f, err := os.Open(p)
	if err != nil {
		return FileSum{}, err
	}
	defer f.Close()
	var c cksum
	if _, err := io.Copy(&c, f); err != nil {
		return FileSum{}, err
	}
	return c.Sum(), nil
}
