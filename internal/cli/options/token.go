package options

import "github.com/spf13/pflag"

// Token selects the OIDC identity token and how it is requested.
type Token struct {
	// IdentityToken is a token value, "@file" or "env://NAME"; it overrides
	// the CI's own token.
	IdentityToken string
	// TokenEnv names GitLab's id_tokens variable.
	TokenEnv string
	// Audience is requested from GitHub and checked on every token.
	Audience string
}

// AddFlags registers the flags.
func (o *Token) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.IdentityToken, "identity-token", "", "OIDC identity token: a value, @FILE or env://NAME (default: the CI's own token)")
	fs.StringVar(&o.TokenEnv, "token-env", "SIGSTORE_ID_TOKEN", "GitLab: the variable the job's id_tokens writes the token to")
	fs.StringVar(&o.Audience, "audience", "sigstore", "audience of the identity token")
}
