package demo

import (
	"encoding/json"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/subject"
)

// demoSBOM is a tiny SPDX 2.3 document, the shape Syft writes.
var demoSBOM = json.RawMessage(`{
  "spdxVersion": "SPDX-2.3",
  "dataLicense": "CC0-1.0",
  "SPDXID": "SPDXRef-DOCUMENT",
  "name": "demo/app",
  "documentNamespace": "https://github.com/sealsign/seal/demo/app",
  "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: seal-demo"]},
  "packages": [{"name": "demo-app", "SPDXID": "SPDXRef-Package-demo-app", "versionInfo": "1.0.0", "downloadLocation": "NOASSERTION"}]
}`)

func subjectOf(s oci.Subject) subject.Subject {
	return subject.Subject{Name: s.Ref.Context().Name(), Digest: map[string]string{s.Descriptor.Digest.Algorithm: s.Descriptor.Digest.Hex}}
}
