package testbed

import (
	"fmt"
	"path/filepath"
	"testing"
)

// KMS is a running AWS KMS emulator (local-kms) on loopback, with no keys until a test creates
// them through the KMS API (CreateKey, CreateAlias). It does not check request signatures: any
// access key works.
type KMS struct {
	// URL is the endpoint, "http://127.0.0.1:PORT", for AWS_ENDPOINT_URL_KMS.
	URL string
	// Region and Account are the ones its key ARNs name.
	Region, Account string
}

// StartKMS starts local-kms with its database in a temporary directory and stops it when the
// test ends.
func StartKMS(t testing.TB) *KMS {
	t.Helper()
	bin := Bin(t, BinLocalKMS)
	dir := t.TempDir()
	k := &KMS{Region: "eu-west-1", Account: "111122223333"}
	ports, _ := launch(t, spec{
		name:  "local-kms",
		bin:   bin,
		dir:   dir,
		ports: 1,
		args:  func([]int) ([]string, error) { return nil, nil },
		env: []string{
			"KMS_REGION=" + k.Region, "KMS_ACCOUNT_ID=" + k.Account,
			"KMS_DATA_PATH=" + filepath.Join(dir, "data"), "KMS_SEED_PATH=" + filepath.Join(dir, "no-seed.yaml"),
		},
		portEnv: func(ports []int) []string { return []string{fmt.Sprintf("PORT=%d", ports[0])} },
		ready:   func(ports []int) string { return "http://" + hostPort(ports[0]) + "/" },
		// It answers GET with 405: up.
		readyStatus: func(code int) bool { return code == 405 },
	})
	k.URL = fmt.Sprintf("http://%s", hostPort(ports[0]))
	return k
}
