package testbed

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// ReleaseServer serves one asset of a GitHub release of sealsign/seal over HTTPS on 127.0.0.1,
// at the path the action's setup.sh downloads it from, until the test ends. It returns the
// server's URL (setup.sh's GITHUB_SERVER_URL) and a file holding its CA certificate (curl's
// CURL_CA_BUNDLE). Each request is answered with *body as it is then, so a test can swap it.
func ReleaseServer(t testing.TB, version, asset string, body *[]byte) (url, caFile string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sealsign/seal/releases/download/"+version+"/"+asset {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(*body)
	}))
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}
