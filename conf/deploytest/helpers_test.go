package deploytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository: the Docker build context and where the
// deployment files are.
const root = "../.."

func read(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// image loads the image conf/docker/Dockerfile builds; a test that uses
// it fails if the Dockerfile has errors (TestDockerfile says which).
func image(t *testing.T) *Image {
	t.Helper()
	img, errs := LoadImage(root, read(t, "conf/docker/Dockerfile"), read(t, ".dockerignore"))
	if len(errs) > 0 {
		t.Fatalf("conf/docker/Dockerfile:\n%v", errors.Join(errs...))
	}
	return img
}

func noErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	if len(errs) > 0 {
		t.Errorf("%s:\n%v", what, errors.Join(errs...))
	}
}

// wantError fails unless one of errs contains want.
func wantError(t *testing.T, errs []error, want string) {
	t.Helper()
	if len(errs) == 0 {
		t.Errorf("no error; want one containing %q", want)
		return
	}
	msg := errors.Join(errs...).Error()
	if !strings.Contains(msg, want) {
		t.Errorf("errors do not mention %q:\n%s", want, msg)
	}
}

// replace replaces old by new in s, failing if old is not there, so that
// a mutation test cannot pass by mutating nothing.
func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q is not in the text being changed", old)
	}
	return strings.Replace(s, old, new, 1)
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
