package keys

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// populateChunk is how much of the table one populate call maps in: small
// enough that the loop filling the table soon has pages to write to, large
// enough that the calls cost nothing.
const populateChunk = 2 << 20

// spareTable keeps the last table released, mapped, for the next
// derivation of the same size: unmapping 64 MiB takes the process's memory
// map lock for several milliseconds, stalling every thread's page faults
// in the middle of the signing that follows the decryption, and a process
// that loads a second key reuses pages already in place. At most one table
// stays mapped.
var spareTable struct {
	sync.Mutex
	m []byte
}

// romixTable returns scrypt's table of n words, mapped outside the Go heap,
// and has another thread populate its pages (MADV_POPULATE_WRITE, Linux
// 5.14) in the order the first loop of ROMix writes them, so that the 64 MiB
// of a cosign key's table is faulted in off the critical path. Populating
// never changes contents, so it needs no synchronization with that loop: a
// page the loop reaches first is faulted in by the loop, as it would be
// anyway. release stops the populating and keeps the table for the next
// call (spareTable). If mapping fails, the table is an ordinary slice.
func romixTable(n int) (v []uint32, release func()) {
	size := n * 4
	spareTable.Lock()
	m := spareTable.m
	if len(m) == size {
		spareTable.m = nil
	} else {
		m = nil
	}
	spareTable.Unlock()
	var (
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	if m == nil {
		var err error
		if m, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE); err != nil {
			return make([]uint32, n), func() {}
		}
		wg.Go(func() {
			for off := 0; off < size && !stop.Load(); off += populateChunk {
				if unix.Madvise(m[off:min(off+populateChunk, size)], unix.MADV_POPULATE_WRITE) != nil {
					return // an older kernel: the loop faults pages in itself
				}
			}
		})
	}
	release = func() {
		stop.Store(true)
		wg.Wait()
		spareTable.Lock()
		if spareTable.m == nil {
			spareTable.m, m = m, nil
		}
		spareTable.Unlock()
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(m))), n), release
}

// ReleaseScratch unmaps the table kept for the next key derivation. Call it
// once the process will decrypt no more keys, at a moment when a few
// milliseconds with page faults stalled cost nothing (unmapping holds the
// memory map lock): a publisher waiting for concurrent writers is one. It
// also saves the process's exit that work.
func ReleaseScratch() {
	spareTable.Lock()
	m := spareTable.m
	spareTable.m = nil
	spareTable.Unlock()
	if m != nil {
		_ = unix.Munmap(m)
	}
}
