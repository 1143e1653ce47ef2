package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/policy"
)

// fluxIgnores are seal policy's flags that a Flux verify block has no place for: Flux
// checks that the promotion signer signed the artifact's digest, nothing else.
var fluxIgnores = []string{"attestation", "no-signature", "vsa-verifier", "vsa-level", "vsa-policy-digest", "format", "trusted-root",
	"rekor-url", "no-tlog", "kind", "tuf-mirror", "tuf-root", "hosted-runners-only", "protected-ref-only"}

// runPolicyFlux is `seal policy flux`: an OCIRepository whose spec.verify admits the
// artifact only if the promotion signer (seal promote's --key, or its keyless GitHub job)
// signed its digest.
func (a *app) runPolicyFlux(cmd *cobra.Command, o *options.Policy) error {
	for _, f := range fluxIgnores {
		if cmd.Flags().Changed(f) {
			return usagef("--%s does not apply to flux: Flux's verify checks only that the promotion signer signed the artifact's digest (seal promote signs nothing that failed verification)", f)
		}
	}
	if len(o.Images) != 1 {
		return usagef("flux pulls one artifact: give one --image REPOSITORY[:TAG|@DIGEST]")
	}
	id, pub, err := a.signer(cmd.Context(), o.Identity)
	if err != nil {
		return err
	}
	s := policy.FluxSpec{Name: o.Name, Image: o.Images[0], Identity: id}
	if pub != nil {
		s.PublicKey, s.Identity = pub.PEM(), nil
	}
	doc, err := policy.GenerateFlux(s)
	if err != nil {
		return &usageError{err}
	}
	return a.writeOutput(o.Output, doc)
}

// promotionHint adds the promotion alternative to Generate's refusal of a preset the engine
// cannot pin to its repository (policy's pinSource, whose message names seal verify).
func promotionHint(err error, o *options.Policy) error {
	if o.Promotion || !strings.Contains(err.Error(), "cannot tell signatures of") {
		return err
	}
	return fmt.Errorf("%w; or promote the images (seal promote verifies them with this preset and signs the verdict with a promotion key) and admit on that: seal policy ENGINE --promotion --key promotion.pub", err)
}
