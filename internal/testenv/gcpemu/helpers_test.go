package gcpemu

import (
	"encoding/json"
	"errors"
	"io"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
