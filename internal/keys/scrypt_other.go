//go:build !linux

package keys

// romixTable returns scrypt's table of n words: an ordinary slice outside
// Linux (scrypt_linux.go has the faster table).
func romixTable(n int) (v []uint32, release func()) {
	return make([]uint32, n), func() {}
}

// ReleaseScratch does nothing outside Linux, where the table is an ordinary
// slice that the garbage collector frees.
func ReleaseScratch() {}
