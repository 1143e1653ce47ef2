package githubapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// StorageRecord says where an artifact is stored: POST
// /orgs/{org}/artifacts/metadata/storage-record.
type StorageRecord struct {
	// Name is the artifact's name: for an image its repository, ghcr.io/acme/app.
	Name string
	// Digest is sha256:HEX.
	Digest string
	// Version is the artifact's version (an image's tag), when it has one.
	Version string
	// RegistryURL is the registry's base URL, https://ghcr.io.
	RegistryURL string
	// Repository is the repository within the registry, acme/app.
	Repository string
	// Status is active (the default) or inactive.
	Status string
}

// ImageStorageRecord is the storage record of an image just published at ref
// (NAME@sha256:HEX), with version (its tag, or ""); insecure says its registry is spoken to over
// plain HTTP.
func ImageStorageRecord(ref, version string, insecure bool) (StorageRecord, error) {
	d, err := name.NewDigest(ref)
	if err != nil {
		return StorageRecord{}, fmt.Errorf("storage record of %q: want NAME@sha256:HEX: %w", ref, err)
	}
	scheme := "https://"
	if insecure {
		scheme = "http://"
	}
	repo := d.Context()
	return StorageRecord{
		Name: repo.Name(), Digest: d.DigestStr(), Version: version,
		RegistryURL: scheme + repo.RegistryStr(), Repository: repo.RepositoryStr(), Status: "active",
	}, nil
}

// storageRequest is the body of POST /orgs/{org}/artifacts/metadata/storage-record.
type storageRequest struct {
	Name        string `json:"name"`
	Digest      string `json:"digest"`
	Version     string `json:"version,omitempty"`
	RegistryURL string `json:"registry_url"`
	Repository  string `json:"repository,omitempty"`
	Status      string `json:"status,omitempty"`
}

// recordsAnswer is what both endpoints answer: the records created or updated.
type recordsAnswer struct {
	StorageRecords    []struct{ ID int64 } `json:"storage_records"`
	DeploymentRecords []struct{ ID int64 } `json:"deployment_records"`
}

// CreateStorageRecord writes r and returns the ids of the records GitHub created (one for
// every artifact of the organisation with that digest).
func (c *Client) CreateStorageRecord(ctx context.Context, r StorageRecord) ([]int64, error) {
	body := storageRequest{Name: r.Name, Digest: r.Digest, Version: r.Version, RegistryURL: r.RegistryURL, Repository: r.Repository, Status: r.Status}
	var out recordsAnswer
	if err := c.post(ctx, "creating storage record of "+r.Name+"@"+r.Digest, "/orgs/"+c.org+"/artifacts/metadata/storage-record", Permission, body, &out); err != nil {
		return nil, err
	}
	var ids []int64
	for _, rec := range out.StorageRecords {
		if rec.ID != 0 {
			ids = append(ids, rec.ID)
		}
	}
	return ids, nil
}

// Deployment statuses: GitHub's API knows these two.
const (
	// StatusDeployed says the artifact runs in the deployment.
	StatusDeployed = "deployed"
	// StatusDecommissioned says it was removed from the deployment. A deploy gate that refuses
	// an image does not write it: the refused image never ran, and a record for the same
	// environment, cluster and deployment name replaces the one of the image that still runs.
	StatusDecommissioned = "decommissioned"
)

// DeploymentRecord says an artifact is deployed somewhere: POST
// /orgs/{org}/artifacts/metadata/deployment-record. GitHub keeps one record per logical
// environment, physical environment, cluster and deployment name: a later record for the same
// four replaces it.
type DeploymentRecord struct {
	// Name is the artifact's name (ghcr.io/acme/app); Digest sha256:HEX; Version its tag.
	Name, Digest, Version string
	// Status is StatusDeployed or StatusDecommissioned.
	Status string
	// LogicalEnvironment is the stage (production, staging); required.
	LogicalEnvironment string
	// PhysicalEnvironment is the region, and Cluster the cluster; optional.
	PhysicalEnvironment, Cluster string
	// DeploymentName identifies the deployment within the cluster; required.
	DeploymentName string
	// Tags are free key-value pairs.
	Tags map[string]string
}

// deploymentRequest is the body of POST /orgs/{org}/artifacts/metadata/deployment-record.
type deploymentRequest struct {
	Name                string            `json:"name"`
	Digest              string            `json:"digest"`
	Version             string            `json:"version,omitempty"`
	Status              string            `json:"status"`
	LogicalEnvironment  string            `json:"logical_environment"`
	PhysicalEnvironment string            `json:"physical_environment,omitempty"`
	Cluster             string            `json:"cluster,omitempty"`
	DeploymentName      string            `json:"deployment_name"`
	Tags                map[string]string `json:"tags,omitempty"`
	// ReturnRecords asks for the records in the answer: without it there is no id.
	ReturnRecords bool `json:"return_records"`
}

// CreateDeploymentRecord writes r and returns the ids of the records created or updated.
func (c *Client) CreateDeploymentRecord(ctx context.Context, r DeploymentRecord) ([]int64, error) {
	switch {
	case r.LogicalEnvironment == "":
		return nil, fmt.Errorf("deployment record of %s: no logical environment", r.Name)
	case r.DeploymentName == "":
		return nil, fmt.Errorf("deployment record of %s: no deployment name", r.Name)
	case r.Status != StatusDeployed && r.Status != StatusDecommissioned:
		return nil, fmt.Errorf("deployment record of %s: status %q is neither %s nor %s", r.Name, r.Status, StatusDeployed, StatusDecommissioned)
	}
	body := deploymentRequest{
		Name: r.Name, Digest: r.Digest, Version: r.Version, Status: r.Status,
		LogicalEnvironment: r.LogicalEnvironment, PhysicalEnvironment: r.PhysicalEnvironment,
		Cluster: r.Cluster, DeploymentName: r.DeploymentName, Tags: r.Tags, ReturnRecords: true,
	}
	var out recordsAnswer
	what := "creating deployment record of " + r.Name + "@" + r.Digest + " in " + r.LogicalEnvironment
	if err := c.post(ctx, what, "/orgs/"+c.org+"/artifacts/metadata/deployment-record", Permission, body, &out); err != nil {
		return nil, err
	}
	var ids []int64
	for _, rec := range out.DeploymentRecords {
		if rec.ID != 0 {
			ids = append(ids, rec.ID)
		}
	}
	return ids, nil
}

// ImageName is an image reference's repository as records name it (ghcr.io/acme/app), and the
// tag it names, "" when it names none (no default "latest").
func ImageName(ref string) (repo, tag string, err error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", "", fmt.Errorf("image %q: %w", ref, err)
	}
	noDigest, _, _ := strings.Cut(ref, "@")
	if t, ok := r.(name.Tag); ok && strings.LastIndex(noDigest, ":") > strings.LastIndex(noDigest, "/") {
		tag = t.TagStr()
	}
	return r.Context().Name(), tag, nil
}

// StoreAttestation stores a Sigstore bundle in the repository's attestations (POST
// /repos/{owner}/{repo}/attestations), as actions/attest does, and returns its id.
func (c *Client) StoreAttestation(ctx context.Context, bundleJSON []byte) (int64, error) {
	if !json.Valid(bundleJSON) {
		return 0, fmt.Errorf("storing attestation in %s: the bundle is not JSON", c.repo)
	}
	body := struct {
		Bundle json.RawMessage `json:"bundle"`
	}{bundleJSON}
	var out struct {
		ID int64 `json:"id"`
	}
	if err := c.post(ctx, "storing attestation in "+c.repo, "/repos/"+c.repo+"/attestations", AttestationsPermission, body, &out); err != nil {
		return 0, err
	}
	if out.ID <= 0 {
		return 0, fmt.Errorf("storing attestation in %s: the response has no id", c.repo)
	}
	return out.ID, nil
}
