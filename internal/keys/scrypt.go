package keys

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/bits"
)

// scryptKey derives a key from password and salt with scrypt (RFC 7914), the
// KDF of cosign's encrypted keys. It gives exactly what
// golang.org/x/crypto/scrypt.Key gives (scrypt_test.go checks both against
// RFC 7914's vectors and against each other) and exists for speed: decrypting
// the key is the largest single cost of a keyed signing job, paid once per
// process. It is faster in three ways:
//   - The 128·r·N-byte table V (64 MiB for cosign's N=65536, r=8) comes from
//     romixTable, which on Linux maps it outside the Go heap and has the kernel
//     populate its pages from another thread ahead of the loop that fills it,
//     instead of taking 16,384 page faults on the critical path, and keeps
//     it for the next derivation. Elsewhere it is a Go slice.
//   - BlockMix writes each step straight into V and folds the XOR with a V
//     entry into the Salsa20/8 input, so no 1 KiB block is copied or XORed
//     separately.
//   - Salsa20/8 keeps its input in the state array and only the 16 working
//     words in variables, which leaves the compiler registers enough to spill
//     little.
//
// The password and derived key are the caller's to clear.
func scryptKey(password, salt []byte, N, r, p, keyLen int) ([]byte, error) {
	const maxInt = int(^uint(0) >> 1)
	if N <= 1 || N&(N-1) != 0 {
		return nil, errors.New("scrypt: N must be a power of two greater than 1")
	}
	if r <= 0 || p <= 0 || uint64(r)*uint64(p) >= 1<<30 || r > maxInt/128/p || r > maxInt/256 || N > maxInt/128/r {
		return nil, errors.New("scrypt: parameters are too large")
	}
	b, err := pbkdf2.Key(sha256.New, string(password), salt, 1, p*128*r)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	words := 32 * r // one 128·r-byte block as 32-bit words
	v, release := romixTable(N * words)
	defer release()
	x := make([]uint32, 2*words)
	defer clear(x)
	for i := range p {
		romix(b[i*128*r:(i+1)*128*r], r, N, v, x)
	}
	return pbkdf2.Key(sha256.New, string(password), b, 1, keyLen)
}

// romix is scryptROMix: b (128·r bytes) is replaced by ROMix(b), with v the
// N-entry table and x two blocks of scratch.
func romix(b []byte, r, N int, v, x []uint32) {
	R := 32 * r
	for i := range R {
		v[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	// V[i] = BlockMix(V[i-1]): each step is written straight into the table.
	for i := 1; i < N; i++ {
		blockMix(v[(i-1)*R:i*R], nil, v[i*R:(i+1)*R], r)
	}
	xa, xb := x[:R], x[R:2*R]
	blockMix(v[(N-1)*R:N*R], nil, xa, r)
	for range N / 2 {
		j := integerify(xa, r) & uint64(N-1)
		blockMix(xa, v[j*uint64(R):(j+1)*uint64(R)], xb, r)
		j = integerify(xb, r) & uint64(N-1)
		blockMix(xb, v[j*uint64(R):(j+1)*uint64(R)], xa, r)
	}
	for i := range R {
		binary.LittleEndian.PutUint32(b[4*i:], xa[i])
	}
}

// integerify is the little-endian integer of a block's last 64-byte chunk
// (its first eight bytes: N ≤ 2^64).
func integerify(b []uint32, r int) uint64 {
	o := (2*r - 1) * 16
	return uint64(b[o]) | uint64(b[o+1])<<32
}

// salsaBlock is 64 bytes of a scrypt block as 32-bit words.
type salsaBlock = [16]uint32

func chunk(s []uint32, i int) *salsaBlock { return (*salsaBlock)(s[i*16 : i*16+16]) }

// blockMix is scryptBlockMix of in XOR with (nil: no XOR), written to out;
// in, with and out hold 2r 64-byte chunks. out must not overlap in or with.
func blockMix(in, with, out []uint32, r int) {
	t := *chunk(in, 2*r-1)
	if with != nil {
		w := chunk(with, 2*r-1)
		for k := range t {
			t[k] ^= w[k]
		}
	}
	// Even chunks go to the first half of out, odd ones to the second.
	for i := range r {
		var w0, w1 *salsaBlock
		if with != nil {
			w0, w1 = chunk(with, 2*i), chunk(with, 2*i+1)
		}
		salsaXOR(&t, chunk(in, 2*i), w0, chunk(out, i))
		salsaXOR(&t, chunk(in, 2*i+1), w1, chunk(out, r+i))
	}
}

// salsaXOR sets t to Salsa20/8(t ^ a ^ b) (b may be nil) and copies it to out.
func salsaXOR(t, a, b, out *salsaBlock) {
	if b == nil {
		for k := range t {
			t[k] ^= a[k]
		}
	} else {
		for k := range t {
			t[k] ^= a[k] ^ b[k]
		}
	}
	x0, x1, x2, x3, x4, x5, x6, x7 := t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]
	x8, x9, x10, x11, x12, x13, x14, x15 := t[8], t[9], t[10], t[11], t[12], t[13], t[14], t[15]
	for range 4 {
		// Columns.
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)
		x5 ^= bits.RotateLeft32(x1+x13, 18)
		x10 ^= bits.RotateLeft32(x6+x2, 18)
		x15 ^= bits.RotateLeft32(x11+x7, 18)
		// Rows.
		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)
		x5 ^= bits.RotateLeft32(x4+x7, 18)
		x10 ^= bits.RotateLeft32(x9+x8, 18)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	t[0] += x0
	t[1] += x1
	t[2] += x2
	t[3] += x3
	t[4] += x4
	t[5] += x5
	t[6] += x6
	t[7] += x7
	t[8] += x8
	t[9] += x9
	t[10] += x10
	t[11] += x11
	t[12] += x12
	t[13] += x13
	t[14] += x14
	t[15] += x15
	*out = *t
}
