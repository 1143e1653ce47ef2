package legacy

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

func FuzzLegacyMerge(f *testing.F) {
	l, _ := SignatureLayer([]byte(`{"critical":{}}`), []byte("s"), Material{})
	d, _ := l.descriptor()
	existing, _ := oci.MergeTag(format{}, nil, []v1.Descriptor{d})
	f.Add(existing.Body)
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"digest":"sha256:x"}]}`))
	f.Add([]byte(`{}`))
	ours, _ := SignatureLayer([]byte(`{"critical":{"x":1}}`), []byte("t"), Material{})
	od, _ := ours.descriptor()
	f.Fuzz(func(t *testing.T, doc []byte) {
		ocitest.CheckMerge(t, format{}, doc, []v1.Descriptor{od})
	})
}
