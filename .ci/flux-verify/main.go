//go:build ignore

// This file is built by .ci/peers.sh inside a copy of github.com/fluxcd/source-controller
// (it imports that module's internal package), never as part of Seal.

// Command seal-flux-verify runs Flux source-controller's own cosign verifier
// (internal/oci/cosign, as the OCIRepository reconciler calls it for spec.verify with
// provider cosign and a secretRef key) on one artifact, with one public key.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	scosign "github.com/fluxcd/source-controller/internal/oci/cosign"
)

func main() {
	image := flag.String("image", "", "artifact reference")
	key := flag.String("key", "", "cosign public key file")
	insecure := flag.Bool("insecure", false, "plain HTTP registry")
	flag.Parse()
	ctx := context.Background()
	pub, err := os.ReadFile(*key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var opts []name.Option
	if *insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(*image, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	v, err := scosign.NewCosignVerifierFactory().NewCosignVerifier(ctx, scosign.WithPublicKey(pub), scosign.WithRemoteOptions(remote.WithContext(ctx)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the verifier:", err)
		os.Exit(2)
	}
	res, err := v.Verify(ctx, ref)
	fmt.Printf("result: %s\n", res)
	if err != nil {
		fmt.Printf("error: %v\n", err)
	}
	if res != "verified" {
		os.Exit(1)
	}
}
