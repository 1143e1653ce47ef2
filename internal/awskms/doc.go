// Package awskms signs with AWS KMS keys, for the awskms:// references of
// Seal's --key.
//
// Open takes the URI forms sigstore's client parses (awskms:///ID,
// alias/NAME, key and alias ARNs, awskms://HOST:PORT/... for another
// endpoint) and returns a sigstore signature.SignerVerifier. Its calls are
// the AWS SDK's: the KMS client (GetPublicKey, Sign), and for credentials
// stscreds (web identity through STS), endpointcreds (ECS and EKS) and
// ec2rolecreds (EC2). What Seal adds is the choice among them, in the SDK's
// order, of the sources a CI job has: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), web identity
// (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN: a CI job's OIDC token
// exchanged with STS AssumeRoleWithWebIdentity), static keys of the shared
// credentials file's profile, ECS and EKS container credentials (behind the
// config loader's check that plain HTTP goes only to loopback and the
// agents' addresses), and EC2 instance metadata (IMDSv2 only). Every
// setting is read through WithLookupEnv, never by the SDK itself. The region
// comes from the key ARN, AWS_REGION, AWS_DEFAULT_REGION or the profile;
// AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL override the endpoint the SDK
// resolves (partitions, AWS_USE_FIPS_ENDPOINT). It signs ECDSA keys over
// the curve's hash and RSA keys with PKCS#1 v1.5 and SHA-256, what cosign
// verifies (sigstore's client picks RSASSA-PSS, the first algorithm AWS
// lists, which cosign rejects).
//
// Errors never carry a secret key, session token, web identity token or
// container authorization token, even when a service echoes one.
package awskms
