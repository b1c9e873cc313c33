package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"none", nil, "token abcd", "token abcd"},
		{"one", []string{"s3cret"}, "key s3cret here", "key *** here"},
		{"every occurrence", []string{"s3cret"}, "s3cret and s3cret", "*** and ***"},
		{"short values ignored", []string{"abc", "", "  "}, "abc abcd", "abc abcd"},
		{"trimmed", []string{"  s3cret\n"}, "s3cret", "***"},
		{"longest first", []string{"s3cr", "s3cret-longer"}, "s3cret-longer s3cr", "*** ***"},
		{"duplicates", []string{"s3cret", "s3cret"}, "s3cret", "***"},
		{"multi-byte", []string{"pässwörd"}, "pw pässwörd", "pw ***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewSecrets(tt.secrets...).String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	var zero Secrets
	if got := zero.String("s3cret"); got != "s3cret" {
		t.Errorf("the zero Secrets changed %q", got)
	}
}

func TestDistinct(t *testing.T) {
	got := distinct([]string{"abcd", "abcdef", " abcd ", "ab", "abcde"})
	want := []string{"abcdef", "abcde", "abcd"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("distinct = %q, want %q", got, want)
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://api.heroku.com", "https://api.heroku.com"},
		{"https://me:pw@api.heroku.com", "https://***@api.heroku.com"},
		{"https://token@github.com/acme/shop", "https://***@github.com/acme/shop"},
		{
			"https://registry.heroku.com/v2/shop/web/blobs/uploads/1?_state=abc&digest=sha256:x",
			"https://registry.heroku.com/v2/shop/web/blobs/uploads/1?_state=***&digest=sha256%3Ax",
		},
		{
			"https://auth.example.com/token?scope=repository:a:pull&service=reg&access_token=s3cret",
			"https://auth.example.com/token?access_token=***&scope=repository%3Aa%3Apull&service=reg",
		},
		{"https://s3.example/blob?X-Amz-Signature=abc&X-Amz-Credential=k", "https://s3.example/blob?X-Amz-Credential=***&X-Amz-Signature=***"},
		// Does not parse (a control character); the user info still goes.
		{"https://me:pw@host/\x7f", "https://***@host/\x7f"},
		{"me:pw@host", "***@host"},
		{"not a url", "not a url"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain words", "plain words"},
		{
			`PATCH https://registry.heroku.com/v2/shop/web/blobs/uploads/1?_state=abc&digest=sha256:x: 500`,
			`PATCH https://registry.heroku.com/v2/shop/web/blobs/uploads/1?_state=***&digest=sha256%3Ax: 500`,
		},
		{`Get "https://_:hrku-secret@registry.heroku.com/v2/": EOF`, `Get "https://***@registry.heroku.com/v2/": EOF`},
		{"see https://a:b@x.example/y.", "see https://***@x.example/y."},
		{"two: http://u@a/ and https://v@b/", "two: http://***@a/ and https://***@b/"},
	}
	for _, tt := range tests {
		if got := URLs(tt.in); got != tt.want {
			t.Errorf("URLs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestError(t *testing.T) {
	inner := fmt.Errorf("reading https://me:pw@h/x with s3cret: %w", fs.ErrNotExist)
	s := NewSecrets("s3cret")
	tests := []struct {
		name string
		err  error
		fns  []func(string) string
		want string
		same bool
	}{
		{"nil", nil, []func(string) string{s.String}, "", true},
		{"nothing to hide", errors.New("plain"), []func(string) string{s.String, URLs}, "plain", true},
		{"secret and url", inner, []func(string) string{s.String, URLs}, "reading https://***@h/x with ***: file does not exist", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Error(tt.err, tt.fns...)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("Error(nil) = %v", got)
				}
				return
			}
			if got.Error() != tt.want {
				t.Errorf("text %q, want %q", got.Error(), tt.want)
			}
			if (got == tt.err) != tt.same {
				t.Errorf("returned the same error: %v, want %v", got == tt.err, tt.same)
			}
			if !errors.Is(got, tt.err) {
				t.Error("errors.Is does not see the original")
			}
		})
	}
	var pe *fs.PathError
	wrapped := Error(&fs.PathError{Op: "open", Path: "/s3cret", Err: fs.ErrPermission}, s.String)
	if !errors.As(wrapped, &pe) || !errors.Is(wrapped, fs.ErrPermission) || wrapped.Error() != "open /***: permission denied" {
		t.Errorf("errors.As/Is through %q", wrapped)
	}
	if got := s.Error(inner).Error(); got != "reading https://me:pw@h/x with ***: file does not exist" {
		t.Errorf("Secrets.Error = %q", got)
	}
}
