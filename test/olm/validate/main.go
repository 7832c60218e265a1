// bundle-validate checks an OLM bundle directory with the operator-framework
// validators (github.com/operator-framework/api pkg/validation), the checks
// behind `operator-sdk bundle validate --select-optional
// suite=operatorframework`: the default bundle validators (CSV, CRDs, bundle)
// plus the operatorframework suite (OperatorHub v2 metadata, capabilities,
// categories, APIs removed by the given Kubernetes version, good practices).
// operator-sdk itself is not on the Go module proxy; this is the same library.
//
//	bundle-validate [-k8s-version 1.36] BUNDLE_DIR
//	bundle-validate -print-csv-crd   # the ClusterServiceVersion CRD of the same api version, as YAML
//
// Only BUNDLE_DIR/manifests and BUNDLE_DIR/metadata are read -- what
// bundle.Dockerfile puts in the bundle image. Exit status 1 on any error or
// warning, 2 when the bundle cannot be loaded at all.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/operator-framework/api/crds"
	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
	"sigs.k8s.io/yaml"
)

// The validators operator-sdk labels suite=operatorframework.
var operatorFrameworkSuite = interfaces.Validators{
	validation.OperatorHubV2Validator,
	validation.StandardCapabilitiesValidator,
	validation.StandardCategoriesValidator,
	validation.AlphaDeprecatedAPIsValidator,
	validation.GoodPracticesValidator,
}

const annotationPrefix = "operators.operatorframework.io.bundle."

func main() {
	k8sVersion := flag.String("k8s-version", "1.36", "Kubernetes version the removed-API check judges against")
	printCSVCRD := flag.Bool("print-csv-crd", false, "print the ClusterServiceVersion CRD (operators.coreos.com) and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-k8s-version X.Y] BUNDLE_DIR\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *printCSVCRD {
		out, err := yaml.Marshal(crds.ClusterServiceVersion())
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
		return
	}
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)

	staged, err := stage(dir)
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(staged)

	results := []errors.ManifestResult{formatResult(staged)}
	bundle, err := manifests.GetBundleFromDir(staged)
	if err != nil {
		fail(fmt.Errorf("loading the bundle: %w", err))
	}
	objs := bundle.ObjectsToValidate()
	results = append(results, validation.DefaultBundleValidators.Validate(objs...)...)
	results = append(results, operatorFrameworkSuite.Validate(append(objs, map[string]string{"k8s-version": *k8sVersion})...)...)

	errorCount, warningCount := 0, 0
	for _, r := range results {
		for _, e := range r.Errors {
			errorCount++
			fmt.Printf("ERROR   %s: %s\n", r.Name, e.Error())
		}
		for _, w := range r.Warnings {
			warningCount++
			fmt.Printf("WARNING %s: %s\n", r.Name, w.Error())
		}
	}
	fmt.Printf("bundle %s (%s): %d errors, %d warnings (default validators + suite=operatorframework, k8s-version=%s)\n",
		bundle.Name, dir, errorCount, warningCount, *k8sVersion)
	if errorCount+warningCount > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bundle-validate: %v\n", err)
	os.Exit(2)
}

// stage copies manifests/ and metadata/ into a fresh directory, so files next
// to them (install.yaml, bundle.Dockerfile) are neither loaded nor counted in
// the bundle size.
func stage(dir string) (string, error) {
	tmp, err := os.MkdirTemp("", "bundle-validate-")
	if err != nil {
		return "", err
	}
	for _, sub := range []string{"manifests", "metadata"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		if err := os.Mkdir(filepath.Join(tmp, sub), 0o755); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		for _, e := range entries {
			// a nested directory or hidden file is the loader's to report; copy it as an empty marker
			target := filepath.Join(tmp, sub, e.Name())
			if e.IsDir() {
				err = os.Mkdir(target, 0o755)
			} else {
				var data []byte
				if data, err = os.ReadFile(filepath.Join(dir, sub, e.Name())); err == nil {
					err = os.WriteFile(target, data, 0o644)
				}
			}
			if err != nil {
				os.RemoveAll(tmp)
				return "", err
			}
		}
	}
	return tmp, nil
}

// formatResult checks metadata/annotations.yaml the way OLM reads a
// registry+v1 bundle image: media type, where manifests and metadata live,
// package, channels, and a default channel among them.
func formatResult(dir string) errors.ManifestResult {
	r := errors.ManifestResult{Name: "metadata/annotations.yaml"}
	path := filepath.Join(dir, "metadata", "annotations.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		r.Add(errors.ErrInvalidBundle(fmt.Sprintf("no annotations file: %v", err), path))
		return r
	}
	var file struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		r.Add(errors.ErrInvalidParse("annotations.yaml", err))
		return r
	}
	a := file.Annotations
	want := map[string]string{"mediatype.v1": "registry+v1", "manifests.v1": "manifests/", "metadata.v1": "metadata/"}
	for _, key := range []string{"mediatype.v1", "manifests.v1", "metadata.v1"} {
		if got := a[annotationPrefix+key]; got != want[key] {
			r.Add(errors.ErrInvalidBundle(fmt.Sprintf("annotation %s%s is %q, want %q", annotationPrefix, key, got, want[key]), got))
		}
	}
	if a[annotationPrefix+"package.v1"] == "" {
		r.Add(errors.ErrInvalidBundle("annotation "+annotationPrefix+"package.v1 is empty", ""))
	}
	channels := strings.Split(a[annotationPrefix+"channels.v1"], ",")
	if slices.Contains(channels, "") {
		r.Add(errors.ErrInvalidBundle("annotation "+annotationPrefix+"channels.v1 has an empty channel", a[annotationPrefix+"channels.v1"]))
	}
	if def, ok := a[annotationPrefix+"channel.default.v1"]; ok && !slices.Contains(channels, def) {
		r.Add(errors.ErrInvalidBundle("default channel "+def+" is not one of the bundle's channels", def))
	}
	return r
}
