package frontends

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckWithCircleCI checks the packed orb with CircleCI's own config parser
// (@circleci/circleci-config-parser, on the CircleCI config SDK): parameter
// declarations, the schemas of commands, jobs and executors, references
// between them, and the examples' use of the orb. It runs node on
// orb/check/check.mjs under repoRoot, whose packages `npm ci --prefix
// orb/check` installs (make deps does); see that script for what the
// parser covers. It returns every problem found, joined; nil when there is
// none.
func CheckWithCircleCI(ctx context.Context, repoRoot string, o Orb) error {
	dir := filepath.Join(repoRoot, "orb", "check")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@circleci", "circleci-config-parser")); err != nil {
		return fmt.Errorf("CircleCI's config parser is not installed in %s: run `npm ci --prefix orb/check` (make deps does)", dir)
	}
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encoding the orb: %w", err)
	}
	cmd := exec.CommandContext(ctx, "node", "check.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(doc)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() == 1 && stdout.Len() > 0:
		var errs []error
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			errs = append(errs, errors.New(line))
		}
		return errors.Join(errs...)
	default:
		return fmt.Errorf("running CircleCI's config parser (node orb/check/check.mjs): %w\n%s", err, stderr.String())
	}
}
