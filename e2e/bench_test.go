package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// The benchmarks compare Seal with cosign v2.6.5 on the work a release job
// does, key-based, with the same key, against the same loopback registry.
// They run only with -bench:
//
//	go test ./e2e/ -run '^$' -bench . -benchtime=3x -timeout 60m
//
// Every operation runs the real binaries as a CI job would, so a figure
// includes process start and, for cosign, decrypting the key (scrypt) on
// every call: that is what CI pays. Besides ns/op each reports the
// registry requests per operation (req/op), counted by a proxy in front of
// the registry in one extra, untimed run of the operation (which also warms
// the page cache): the timed runs talk to the registry directly, since on
// two cores the proxy's CPU competes with the registry's, which costs a
// client that sends its requests at once (Seal) most: 10 to 30% of Seal's
// time on the index.
//
// The fewest requests the work can take, on a registry without
// authentication. Distribution has no referrers API and answers a
// monolithic POST ?digest= with an upload session, so a blob costs two
// requests (POST, PUT); olareg takes it in one. Every run pings (1) and
// resolves the image (1 HEAD); --recursive reads the index (1 GET).
//   - legacy, per image: the .sig tag is read (it may hold other signers'
//     layers), the payload and the config uploaded, the manifest written:
//     1+2+2+1 = 6 on distribution (4 on olareg); the .att tag the same with
//     two envelopes: 1+4+2+1 = 8 (5). One image: 16 (11); 33 manifests:
//     3+33×14 = 465 (300). A writer that checks its update against
//     concurrent writers reads each tag once more: +2 per image.
//   - bundle, per image: three bundle blobs (6, or 3), three referrer
//     manifests (3); on distribution one read and one write of the
//     fallback index holding all three (2); the empty config once per
//     repository (HEAD, and an upload when missing). One image: 16 on
//     distribution (10 on olareg); 33 manifests: 369 (203).
//   - both: the sum, sharing ping and resolve: 30 (19) for one image.

// keyPair is a cosign-format key pair that both tools read.
type keyPair struct {
	key, pub, password string
}

// newKeyPair generates a key pair with seal (cosign's format and KDF).
func newKeyPair(tb testing.TB) keyPair {
	tb.Helper()
	dir := tb.TempDir()
	k := keyPair{password: "bench-pass-0123"}
	mustRun(tb, []string{"COSIGN_PASSWORD=" + k.password}, sealBin, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	k.key, k.pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	return k
}

// env is the environment a signing process gets.
func (k keyPair) env() []string { return []string{"COSIGN_PASSWORD=" + k.password} }

// sealKeyed are seal's flags for key-based signing against host: no
// transparency log and no timestamp authority, as cosign's
// --tlog-upload=false.
func sealKeyed(k keyPair, host string, extra ...string) []string {
	return append([]string{"--key", k.key, "--insecure-registry", host, "--no-tlog", "--no-timestamp"}, extra...)
}

// cosignKeyed are cosign v2's flags for the same.
func cosignKeyed(k keyPair) []string {
	return []string{"--key", k.key, "--tlog-upload=false", "--allow-http-registry", "--yes"}
}

// cosign3Keyed are cosign v3's: it writes bundles (OCI referrers, with the
// tag fallback on registries without the referrers API), the same format
// as seal's bundle format; without a signing config it uses no log.
func cosign3Keyed(k keyPair) []string {
	return append(cosignKeyed(k), "--use-signing-config=false")
}

// benchBed is a registry behind a counting proxy, a key, and the
// predicates: an SPDX SBOM, and SLSA provenance for cosign (seal makes its own).
type benchBed struct {
	reg     *testbed.Registry
	proxy   *registryProxy
	keys    keyPair
	cosign  string // v2, for the legacy format
	cosign3 string // v3, for bundles
	sbom    string
	prov    string
}

func newBenchBed(b *testing.B, kind testbed.RegistryKind) *benchBed {
	b.Helper()
	bed := &benchBed{cosign: testbed.Bin(b, testbed.BinCosign), cosign3: testbed.Bin(b, testbed.BinCosignV3), reg: testbed.StartRegistry(b, kind)}
	bed.proxy = startProxy(b, bed.reg.Host)
	bed.keys = newKeyPair(b)
	dir := b.TempDir()
	bed.sbom = writeFile(b, dir, "sbom.spdx.json", spdxSBOM)
	bed.prov = filepath.Join(dir, "provenance.json")
	mustRun(b, nil, sealBin, "provenance", "--predicate-only", "-o", bed.prov, "--subject", "x@sha256:"+strings.Repeat("0", 64))
	return bed
}

// viaProxy rewrites a reference pushed to the registry to go through the proxy.
func (bed *benchBed) viaProxy(ref string) string {
	return strings.Replace(ref, bed.reg.Host, bed.proxy.Host, 1)
}

// onHostOf rewrites ref, on the registry, to the host (registry or proxy)
// that like is on.
func (bed *benchBed) onHostOf(like, ref string) string {
	if strings.HasPrefix(like, bed.proxy.Host+"/") {
		return bed.viaProxy(ref)
	}
	return ref
}

// hostOf is the registry host of a reference.
func hostOf(ref string) string {
	h, _, _ := strings.Cut(ref, "/")
	return h
}

// count runs op once, untimed, on a fresh subject through the proxy and
// returns the requests it made.
func (bed *benchBed) count(b *testing.B, name string, setup func(*testing.B) string, op func(ref string)) int {
	b.Helper()
	ref := bed.viaProxy(setup(b))
	bed.proxy.Reset()
	op(ref)
	b.Logf("%srequests: %s", name, formatCounts(bed.proxy.Counts()))
	return bed.proxy.Total()
}

// measure runs op b.N times on a fresh subject made by setup (not timed),
// talking to the registry directly, and reports the requests of one more
// run through the proxy.
func (bed *benchBed) measure(b *testing.B, setup func(b *testing.B) string, op func(ref string)) {
	b.Helper()
	b.StopTimer()
	reqs := bed.count(b, "", setup, op)
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		ref := setup(b)
		start := time.Now()
		b.StartTimer()
		op(ref)
		b.StopTimer()
		wall += time.Since(start)
	}
	b.ReportMetric(float64(reqs), "req/op")
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/op")
}

// BenchmarkOneImage: one image gets a signature, SLSA provenance and an SBOM
// attestation. Seal does it in one process; cosign in three (sign, attest
// provenance, attest SBOM), each decrypting the key. Each sub-benchmark
// pairs Seal with the cosign that writes the same format (cosign v2 the
// legacy tags, cosign v3 bundles, both of them for both formats) and runs
// the two on fresh images in alternating order within every iteration, so
// that a machine that speeds up or slows down during the run (a shared CI
// host does) moves both figures alike; it reports each tool's seconds and
// requests per operation and their ratio. An untimed round first puts both
// tools' binaries in the page cache.
func BenchmarkOneImage(b *testing.B) {
	for _, kind := range []testbed.RegistryKind{testbed.Distribution, testbed.Olareg} {
		b.Run(string(kind), func(b *testing.B) {
			bed := newBenchBed(b, kind)
			n := 0
			fresh := func(b *testing.B) string { n++; return pushImage(b, bed.reg.Host, fmt.Sprintf("one/img%d", n)) }
			seal := func(format string) func(b *testing.B, ref string) {
				return func(b *testing.B, ref string) {
					mustRun(b, bed.keys.env(), sealBin, append(append([]string{"attest", "--sign", "--provenance", "--predicate", bed.sbom, "--format", format},
						sealKeyed(bed.keys, hostOf(ref))...), ref)...)
				}
			}
			v2 := func(b *testing.B, ref string) { bed.cosignOne(b, bed.cosign, cosignKeyed(bed.keys), ref) }
			v3 := func(b *testing.B, ref string) { bed.cosignOne(b, bed.cosign3, cosign3Keyed(bed.keys), ref) }
			for _, v := range []struct {
				name   string
				seal   func(*testing.B, string)
				cosign []func(*testing.B, string)
			}{
				{"legacy-vs-cosign", seal("legacy"), []func(*testing.B, string){v2}},
				{"bundle-vs-cosign-v3", seal("bundle"), []func(*testing.B, string){v3}},
				{"both-vs-cosign-v2+v3", seal("both"), []func(*testing.B, string){v2, v3}},
			} {
				b.Run(v.name, func(b *testing.B) {
					bed.pair(b, fresh, v.seal, func(b *testing.B, ref string) {
						for _, c := range v.cosign {
							c(b, ref)
						}
					})
				})
			}
		})
	}
}

// pair measures seal against cosign on fresh subjects from setup, b.N times
// each, alternating which goes first, and reports both tools' s/op and
// req/op (counted in a run of each through the proxy first) and the ratio
// of their wall times.
func (bed *benchBed) pair(b *testing.B, setup func(*testing.B) string, seal, cosign func(*testing.B, string)) {
	b.Helper()
	b.StopTimer()
	type tool struct {
		name string
		run  func(*testing.B, string)
		wall time.Duration
		reqs int
	}
	tools := []*tool{{name: "seal", run: seal}, {name: "cosign", run: cosign}}
	for _, t := range tools {
		t.reqs = bed.count(b, t.name+" ", setup, func(ref string) { t.run(b, ref) })
	}
	for i := 0; i < b.N; i++ {
		for k := range tools {
			t := tools[(i+k)%2]
			ref := setup(b)
			start := time.Now()
			b.StartTimer()
			t.run(b, ref)
			b.StopTimer()
			t.wall += time.Since(start)
		}
	}
	for _, t := range tools {
		b.ReportMetric(t.wall.Seconds()/float64(b.N), t.name+"-s/op")
		b.ReportMetric(float64(t.reqs), t.name+"-req/op")
	}
	b.ReportMetric(tools[0].wall.Seconds()/tools[1].wall.Seconds(), "ratio")
}

// cosignOne is what a cosign user runs for one image, with cosign binary
// bin and its key-based flags.
func (bed *benchBed) cosignOne(b *testing.B, bin string, flags []string, ref string) {
	mustRun(b, bed.keys.env(), bin, append(append([]string{"sign"}, flags...), ref)...)
	bed.cosignAttest(b, bin, flags, ref)
}

func (bed *benchBed) cosignAttest(b *testing.B, bin string, flags []string, ref string) {
	mustRun(b, bed.keys.env(), bin, append(append([]string{"attest", "--type", "slsaprovenance1", "--predicate", bed.prov}, flags...), ref)...)
	mustRun(b, bed.keys.env(), bin, append(append([]string{"attest", "--type", "spdxjson", "--predicate", bed.sbom}, flags...), ref)...)
}

// BenchmarkRecursiveIndex32: an index of 32 platforms; every one of the 33
// manifests gets a signature, SLSA provenance and an SBOM attestation.
// cosign v2 signs recursively in one call but has no recursive attest, so
// a cosign user attests each manifest: 1 + 2×33 processes. As in
// BenchmarkOneImage, each format pairs Seal with the matching cosign in
// every iteration; the --jobs 33 rows time Seal alone.
func BenchmarkRecursiveIndex32(b *testing.B) {
	const platforms = 32
	for _, kind := range []testbed.RegistryKind{testbed.Distribution, testbed.Olareg} {
		b.Run(string(kind), func(b *testing.B) {
			bed := newBenchBed(b, kind)
			children := map[string][]string{}
			n := 0
			fresh := func(b *testing.B) string {
				n++
				idx, ch := pushIndex(b, bed.reg.Host, fmt.Sprintf("multi/idx%d", n), platforms)
				children[idx] = ch
				return idx
			}
			seal := func(format, jobs string) func(*testing.B, string) {
				return func(b *testing.B, ref string) {
					args := []string{"attest", "--sign", "--recursive", "--provenance", "--predicate", bed.sbom, "--format", format}
					if jobs != "" {
						args = append(args, "--jobs", jobs)
					}
					mustRun(b, bed.keys.env(), sealBin, append(append(args, sealKeyed(bed.keys, hostOf(ref))...), ref)...)
				}
			}
			cosign := func(bin string, flags []string) func(*testing.B, string) {
				return func(b *testing.B, ref string) {
					mustRun(b, bed.keys.env(), bin, append(append([]string{"sign", "--recursive"}, flags...), ref)...)
					bed.cosignAttest(b, bin, flags, ref)
					for _, c := range children[strings.Replace(ref, bed.proxy.Host, bed.reg.Host, 1)] {
						bed.cosignAttest(b, bin, flags, bed.onHostOf(ref, c))
					}
				}
			}
			v2, v3 := cosign(bed.cosign, cosignKeyed(bed.keys)), cosign(bed.cosign3, cosign3Keyed(bed.keys))
			for _, v := range []struct {
				name   string
				seal   func(*testing.B, string)
				cosign []func(*testing.B, string)
			}{
				{"legacy-vs-cosign", seal("legacy", ""), []func(*testing.B, string){v2}},
				{"bundle-vs-cosign-v3", seal("bundle", ""), []func(*testing.B, string){v3}},
				{"both-vs-cosign-v2+v3", seal("both", ""), []func(*testing.B, string){v2, v3}},
			} {
				b.Run(v.name, func(b *testing.B) {
					bed.pair(b, fresh, v.seal, func(b *testing.B, ref string) {
						for _, c := range v.cosign {
							c(b, ref)
						}
					})
				})
			}
			// --jobs 33 publishes every manifest at once; on two cores the
			// default (4) is faster.
			for _, format := range []string{"legacy", "both"} {
				b.Run("seal-"+format+"-jobs33", func(b *testing.B) {
					run := seal(format, "33")
					bed.measure(b, fresh, func(ref string) { run(b, ref) })
				})
			}
		})
	}
}

// BenchmarkVerify200: 200 images, each with a legacy signature and SLSA
// provenance (what both tools read), verified one by one as a deployment
// gate over a release does: `seal verify --key --attestation
// slsaprovenance1` per image, and cosign verify plus verify-attestation per
// image. seal-multi passes all 200 to one `seal verify IMAGE...`, which
// shares one registry session and verifies in parallel; seal-recursive
// verifies them (and the index) through the index that holds them.
func BenchmarkVerify200(b *testing.B) {
	const images = 200
	for _, kind := range []testbed.RegistryKind{testbed.Distribution, testbed.Olareg} {
		b.Run(string(kind), func(b *testing.B) {
			bed := newBenchBed(b, kind)
			// One index holds the 200 images, so one seal process signs them all.
			idx, children := pushIndex(b, bed.reg.Host, "verify/many", images)
			mustRun(b, bed.keys.env(), sealBin, append(append([]string{"attest", "--sign", "--recursive", "--provenance", "--format", "legacy"},
				sealKeyed(bed.keys, bed.reg.Host)...), idx)...)
			same := func(*testing.B) string { return idx }
			// The images, on the host (registry or proxy) of ref.
			onHost := func(ref string) []string {
				out := make([]string, len(children))
				for i, c := range children {
					out[i] = bed.onHostOf(ref, c)
				}
				return out
			}
			report := func(b *testing.B) {
				b.ReportMetric(float64(images)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
			}
			b.Run("seal", func(b *testing.B) {
				bed.measure(b, same, func(ref string) {
					for _, img := range onHost(ref) {
						mustRun(b, nil, sealBin, "verify", "--key", bed.keys.pub, "--attestation", "slsaprovenance1", "--insecure-registry", hostOf(ref), img)
					}
				})
				report(b)
			})
			b.Run("seal-multi", func(b *testing.B) {
				bed.measure(b, same, func(ref string) {
					mustRun(b, nil, sealBin, append([]string{"verify", "--key", bed.keys.pub, "--attestation", "slsaprovenance1", "--insecure-registry", hostOf(ref)}, onHost(ref)...)...)
				})
				report(b)
			})
			b.Run("seal-recursive", func(b *testing.B) {
				bed.measure(b, same, func(ref string) {
					mustRun(b, nil, sealBin, "verify", "--key", bed.keys.pub, "--attestation", "slsaprovenance1", "--insecure-registry", hostOf(ref), "--recursive", ref)
				})
				report(b)
			})
			b.Run("cosign", func(b *testing.B) {
				args := []string{"--key", bed.keys.pub, "--allow-http-registry", "--insecure-ignore-tlog"}
				bed.measure(b, same, func(ref string) {
					for _, img := range onHost(ref) {
						mustRun(b, nil, bed.cosign, append(append([]string{"verify"}, args...), img)...)
						mustRun(b, nil, bed.cosign, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, args...), img)...)
					}
				})
				report(b)
			})
		})
	}
}
