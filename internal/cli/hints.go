package cli

import (
	"regexp"

	"github.com/spf13/cobra"
)

// cosignFlags are cosign's names for what Seal spells differently, or does
// not need: people come to Seal with cosign commands in their pipelines.
var cosignFlags = map[string]string{
	"yes":                     "Seal never asks for confirmation: drop it",
	"y":                       "Seal never asks for confirmation: drop it",
	"tlog-upload":             "Seal uploads to the transparency log for public repositories; --no-tlog never uploads, --tlog also uploads for private ones",
	"allow-insecure-registry": "use --insecure-registry HOST[:PORT], which allows plain HTTP for that registry only",
	"allow-http-registry":     "use --insecure-registry HOST[:PORT], which allows plain HTTP for that registry only",
	"new-bundle-format":       "use --format bundle, legacy or both",
	"output-signature":        "Seal writes bundle files with --output-dir; --json lists what it wrote",
}

// cosignVerifyFlags apply to seal verify, whose checks take other names.
var cosignVerifyFlags = map[string]string{
	"type":                                   "seal verify requires attestations with --attestation TYPE (repeatable)",
	"certificate-github-workflow-repository": "use --github-repo OWNER/REPO, which pins the repository through the certificate",
	"insecure-ignore-tlog":                   "use --no-tlog",
	"new-bundle-format":                      "seal verify reads both formats itself: drop it",
}

var unknownFlag = regexp.MustCompile(`^unknown (?:shorthand )?flag: (?:--([A-Za-z0-9-]+)|'([A-Za-z0-9])' in -)`)

// cosignHint explains a flag pflag refused when it is cosign's spelling.
func cosignHint(c *cobra.Command, err error) string {
	m := unknownFlag.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	name := m[1] + m[2]
	hint, ok := cosignFlags[name]
	if c.Name() == "verify" {
		if h, vok := cosignVerifyFlags[name]; vok {
			hint, ok = h, true
		}
	}
	if !ok {
		return ""
	}
	return " (cosign's --" + name + ": " + hint + ")"
}
