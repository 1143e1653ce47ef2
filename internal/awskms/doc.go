// Package awskms signs with AWS KMS keys, for the awskms:// references of
// Seal's --key.
//
// Open takes the URI forms sigstore's client parses (awskms:///ID,
// alias/NAME, key and alias ARNs, awskms://HOST:PORT/... for another
// endpoint) and returns a sigstore signature.SignerVerifier. The default
// build makes the two KMS calls it needs (GetPublicKey and Sign, JSON 1.1)
// itself, signed by the AWS SDK's SigV4 signer, with the credential sources
// CI has, in the AWS SDK's order: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), web identity
// (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, through STS), static keys of
// the shared credentials file's profile, ECS and EKS container credentials
// (the SDK's endpointcreds, behind Seal's check that plain HTTP goes only to
// loopback and the agents' addresses), and EC2 instance metadata (the SDK's
// ec2rolecreds, IMDSv2 only). The region comes from the key ARN,
// AWS_REGION, AWS_DEFAULT_REGION or the profile, and AWS_ENDPOINT_URL_KMS
// or AWS_ENDPOINT_URL override the endpoint. It signs ECDSA keys over the
// curve's hash and RSA keys with PKCS#1 v1.5 and SHA-256, what cosign
// verifies. Built with -tags seal_awskms, Open uses sigstore's client and
// the AWS SDK's KMS client and config loader instead (4.4 MB more), for the
// SDK's full credential chain (SSO, credential_process, assume-role
// profiles); that client signs RSA keys with RSASSA-PSS, which cosign
// rejects, so it accepts only ECDSA keys.
//
// Errors never carry a secret key, session token, web identity token or
// container authorization token, even when a service echoes one.
package awskms
