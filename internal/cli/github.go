package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/githubapi"
	"github.com/sealsign/seal/internal/publish"
)

// metadataRecord is one storage or deployment record written to GitHub's artifact metadata.
type metadataRecord struct {
	// Image is the image the record is about, NAME@sha256:HEX.
	Image string `json:"image"`
	// IDs are the ids GitHub gave the records.
	IDs []int64 `json:"ids"`
	// Environment is a deployment record's logical environment.
	Environment string `json:"environment,omitempty"`
}

// artifactMetadata is the client of the artifact metadata of the organisation that owns the
// job's repository, with token (masked from here on).
func (a *app) artifactMetadata(token string) (*githubapi.Client, error) {
	a.mask(token)
	return githubapi.New(a.getenv("GITHUB_API_URL"), a.getenv("GITHUB_REPOSITORY"), token)
}

// checkGitHubMetadata refuses a record asked for outside GitHub Actions, before anything is
// signed or verified.
func (a *app) checkGitHubMetadata(flag string) error {
	if !a.inGitHubActions() {
		return usagef("%s writes GitHub artifact metadata: it runs in GitHub Actions (GITHUB_ACTIONS=true, with GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_TOKEN)", flag)
	}
	return nil
}

// storageRecords writes a storage record of every image rep published (the top image first,
// then each platform), as actions/attest does after pushing. A refusal (a personal account,
// no `artifact-metadata: write`) is a warning: the signatures are written. Other errors are
// retried by the client, then returned when strict (the record was asked for), else warned
// about too.
func (a *app) storageRecords(ctx context.Context, rep *publish.Report, insecure []string, token string, strict bool) ([]metadataRecord, error) {
	if rep == nil {
		return nil, nil
	}
	c, err := a.artifactMetadata(token)
	if err != nil {
		return nil, a.metadataFailed("storage records", err, strict)
	}
	var images []string
	if top := rep.Image.Ref.String(); top != "" && rep.Image.Ref.DigestStr() != "" {
		images = append(images, top)
	}
	for _, it := range rep.Items {
		if !slices.Contains(images, it.Subject) {
			images = append(images, it.Subject)
		}
	}
	var out []metadataRecord
	for _, img := range images {
		version := ""
		if img == rep.Image.Ref.String() {
			version = rep.Image.Tag
		}
		rec, err := githubapi.ImageStorageRecord(img, version, insecureHost(img, insecure))
		if err != nil {
			return out, err
		}
		ids, err := c.CreateStorageRecord(ctx, rec)
		if err != nil {
			return out, a.metadataFailed("storage records", err, strict)
		}
		out = append(out, metadataRecord{Image: img, IDs: ids})
		fmt.Fprintf(a.stderr, "recorded storage of %s in %s's artifact metadata: %s (record %s)\n", img, c.Organization(), rec.RegistryURL+"/"+rec.Repository, joinIDs(ids, ", "))
	}
	return out, nil
}

// checkDeployment refuses deployment record flags that cannot apply to this run.
func (a *app) checkDeployment(o *options.Verify, refs []string) error {
	d := o.Deployment
	switch {
	case d == options.Deployment{}:
		return nil
	case d.Environment == "":
		return usagef("--github-physical-environment, --github-cluster and --github-deployment-name need --github-deployment-record ENV")
	case len(o.Bundles) > 0:
		return usagef("--github-deployment-record records images a registry serves, not files checked with --bundle")
	case d.Name != "" && len(refs) > 1:
		return usagef("--github-deployment-name names one deployment: give one IMAGE (each image's deployment is named after its repository without it)")
	}
	return a.checkGitHubMetadata("--github-deployment-record")
}

// deploymentRecords records each verified image as deployed to d's environment. Only called
// after the whole verification passed: an image the gate refused is not deployed, and it gets
// no record, not even `decommissioned`, which says an image was taken out of a deployment, and
// would replace the record of the image still running there.
func (a *app) deploymentRecords(ctx context.Context, refs []string, res *verified, d options.Deployment, token string) ([]metadataRecord, error) {
	c, err := a.artifactMetadata(token)
	if err != nil {
		return nil, a.metadataFailed("deployment records", err, true)
	}
	var out []metadataRecord
	for i, r := range res.Results {
		if !r.Verified || r.Report == nil {
			continue
		}
		img, err := name.NewDigest(r.Image)
		if err != nil {
			return out, fmt.Errorf("deployment record: the verified image %q has no digest: %w", r.Image, err)
		}
		_, tag, _ := githubapi.ImageName(refs[i])
		deployment := d.Name
		if deployment == "" {
			deployment = path.Base(img.Context().RepositoryStr())
		}
		rec := githubapi.DeploymentRecord{
			Name: img.Context().Name(), Digest: img.DigestStr(), Version: tag, Status: githubapi.StatusDeployed,
			LogicalEnvironment: d.Environment, PhysicalEnvironment: d.PhysicalEnvironment, Cluster: d.Cluster, DeploymentName: deployment,
		}
		ids, err := c.CreateDeploymentRecord(ctx, rec)
		if err != nil {
			return out, a.metadataFailed("deployment records", err, true)
		}
		out = append(out, metadataRecord{Image: r.Image, IDs: ids, Environment: d.Environment})
		where := strings.Join(slices.DeleteFunc([]string{d.Environment, d.PhysicalEnvironment, d.Cluster}, func(s string) bool { return s == "" }), "/")
		fmt.Fprintf(a.stderr, "recorded %s as deployed to %s (deployment %s) in %s's artifact metadata (record %s)\n", r.Image, where, deployment, c.Organization(), joinIDs(ids, ", "))
	}
	return out, nil
}

// metadataFailed turns a refusal into a warning (nil), and any other error too unless strict.
func (a *app) metadataFailed(what string, err error, strict bool) error {
	switch {
	case errors.Is(err, githubapi.ErrNotPermitted):
		a.log.Warn("no GitHub "+what+" written (the job needs `permissions: "+githubapi.Permission+"`, and an organisation's repository)", "error", a.redact(err.Error()))
		return nil
	case !strict:
		a.log.Warn("no GitHub "+what+" written (set create-storage-record: false to stop trying)", "error", a.redact(err.Error()))
		return nil
	}
	return errors.New(a.redact(err.Error()))
}

// insecureHost reports whether ref's registry is one spoken to over plain HTTP.
func insecureHost(ref string, insecure []string) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	return slices.Contains(insecure, r.Context().RegistryStr())
}

func joinIDs(ids []int64, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	if len(s) == 0 {
		return "(no id returned)"
	}
	return strings.Join(s, sep)
}
