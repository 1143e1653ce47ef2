package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/keys"
)

func (a *app) newGenerateKeyPair() *cobra.Command {
	var prefix string
	var force bool
	cmd := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Write a cosign-compatible key pair (cosign.key, cosign.pub)",
		Long: `Writes an ECDSA P-256 key pair in cosign's format: the private key encrypted with
the password in COSIGN_PASSWORD (scrypt + secretbox), the public key as PEM. cosign
reads both; store the private key and password as CI secrets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pass, ok := a.lookupEnv("COSIGN_PASSWORD")
			if !ok {
				return errors.New("set COSIGN_PASSWORD to the password that will protect the private key (it may be empty)")
			}
			a.mask(pass)
			privPath, pubPath := prefix+".key", prefix+".pub"
			if !force {
				for _, p := range []string{privPath, pubPath} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s exists: remove it or pass --force", p)
					}
				}
			}
			priv, pub, err := keys.Generate([]byte(pass))
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(privPath), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(privPath, priv, 0o600); err != nil {
				return fmt.Errorf("writing private key: %w", err)
			}
			if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
				return fmt.Errorf("writing public key: %w", err)
			}
			fmt.Fprintf(a.stderr, "Private key written to %s\nPublic key written to %s\n", privPath, pubPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "path prefix of the key files")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}
