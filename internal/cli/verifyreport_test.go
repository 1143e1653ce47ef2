package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/verify"
)

// A passing report lists what it ignored without failure marks; a failing
// one marks every rejection.
func TestVerifyReportMarks(t *testing.T) {
	rejected := []string{"bundle sha256:aa: signed by someone else"}
	var pass bytes.Buffer
	printVerifyReport(&pass, &verify.Report{Image: "r/app@sha256:1", Findings: []verify.Finding{{Kind: "signature", Format: oci.Bundle, Subject: "r/app@sha256:1", Signer: "key"}}, Rejected: rejected})
	if strings.Contains(pass.String(), "✗") {
		t.Errorf("a passing report prints failure marks:\n%s", pass.String())
	}
	if !strings.Contains(pass.String(), "1 other signature(s) or attestation(s) did not match this policy and were ignored:\n    - bundle sha256:aa") {
		t.Errorf("a passing report does not list what it ignored:\n%s", pass.String())
	}
	var fail bytes.Buffer
	printVerifyReport(&fail, &verify.Report{Image: "r/app@sha256:1", Rejected: rejected, Failures: []string{"no valid signature"}})
	if !strings.Contains(fail.String(), "✗ rejected bundle sha256:aa") || !strings.Contains(fail.String(), "✗ no valid signature") {
		t.Errorf("a failing report does not mark its rejections:\n%s", fail.String())
	}
}
