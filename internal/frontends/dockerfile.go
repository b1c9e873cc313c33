package frontends

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Stage is one stage of a Dockerfile, with what it puts into the image
// config. Values have build arguments substituted.
type Stage struct {
	Name     string // the AS name, or ""
	Base     string // the FROM image or stage name ("scratch", "golang:1.26")
	Platform string // FROM --platform, unsubstituted
	// Entrypoint is the exec form; ShellEntrypoint is set instead when the
	// shell form is used.
	Entrypoint      []string
	ShellEntrypoint string
	Cmd             []string
	Env             map[string]string
	Labels          map[string]string
	User            string
	WorkDir         string
	Copies          []Copy
	Runs            []string
	// Args are the build arguments declared in the stage, with defaults.
	Args map[string]string
}

// Copy is a COPY (or ADD) instruction.
type Copy struct {
	From  string // --from
	Chmod string // --chmod
	Src   []string
	Dst   string
}

// ParseDockerfile reads the Dockerfile at file. buildArgs override the
// defaults of ARG instructions, as docker build --build-arg does.
func ParseDockerfile(file string, buildArgs map[string]string) ([]Stage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stages, err := parseDockerfile(f, buildArgs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return stages, nil
}

var varRe = regexp.MustCompile(`\$(\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

func parseDockerfile(r io.Reader, buildArgs map[string]string) ([]Stage, error) {
	lines, err := logicalLines(r)
	if err != nil {
		return nil, err
	}
	global := map[string]string{} // ARGs before the first FROM
	var stages []Stage
	var cur *Stage
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l.text, " ")
		instr = strings.ToUpper(instr)
		rest = strings.TrimSpace(rest)
		at := fmt.Sprintf("line %d: %s", l.n, instr)
		if cur == nil && instr != "FROM" && instr != "ARG" {
			return nil, fmt.Errorf("%s before the first FROM", at)
		}
		expand := func(s string) string {
			if cur == nil {
				return expandVars(s, global, nil)
			}
			return expandVars(s, cur.Args, cur.Env)
		}
		switch instr {
		case "ARG":
			for _, w := range fields(rest) {
				k, v, hasDefault := strings.Cut(w, "=")
				if bv, ok := buildArgs[k]; ok {
					v = bv
				} else if !hasDefault && cur != nil {
					v = global[k] // a global ARG redeclared in a stage keeps its value
				}
				if cur == nil {
					global[k] = v
				} else {
					cur.Args[k] = expand(v)
				}
			}
		case "FROM":
			words := fields(rest)
			st := Stage{Env: map[string]string{}, Labels: map[string]string{}, Args: map[string]string{}}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				if p, ok := strings.CutPrefix(words[0], "--platform="); ok {
					st.Platform = p
				}
				words = words[1:]
			}
			switch {
			case len(words) == 1:
			case len(words) == 3 && strings.EqualFold(words[1], "AS"):
				st.Name = words[2]
			default:
				return nil, fmt.Errorf("%s: want FROM [--platform=P] IMAGE [AS NAME]", at)
			}
			st.Base = expandVars(words[0], global, nil)
			// A stage built FROM an earlier stage starts with its config.
			for i := range stages {
				if stages[i].Name != "" && stages[i].Name == st.Base {
					inherit(&st, &stages[i])
				}
			}
			stages = append(stages, st)
			cur = &stages[len(stages)-1]
		case "ENV", "LABEL":
			dst := cur.Env
			if instr == "LABEL" {
				dst = cur.Labels
			}
			words := fields(rest)
			if len(words) >= 2 && !strings.Contains(words[0], "=") && instr == "ENV" {
				dst[words[0]] = expand(strings.Join(words[1:], " ")) // legacy ENV K V
				continue
			}
			for _, w := range words {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					return nil, fmt.Errorf("%s: %q is not KEY=VALUE", at, w)
				}
				dst[expand(k)] = expand(v)
			}
		case "ENTRYPOINT", "CMD":
			var exec []string
			shell := ""
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &exec); err != nil {
					return nil, fmt.Errorf("%s: exec form is not a JSON list of strings: %w", at, err)
				}
			} else {
				shell = rest
			}
			if instr == "CMD" {
				cur.Cmd = exec
				if shell != "" {
					cur.Cmd = []string{"/bin/sh", "-c", shell}
				}
				continue
			}
			cur.Entrypoint, cur.ShellEntrypoint = exec, shell
			cur.Cmd = nil // ENTRYPOINT resets an inherited CMD
		case "USER":
			cur.User = expand(rest)
		case "WORKDIR":
			cur.WorkDir = expand(rest)
		case "RUN":
			cur.Runs = append(cur.Runs, rest)
		case "COPY", "ADD":
			words := fields(rest)
			var c Copy
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				k, v, _ := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
				switch k {
				case "from":
					c.From = expand(v)
				case "chmod":
					c.Chmod = v
				}
				words = words[1:]
			}
			if len(words) < 2 {
				return nil, fmt.Errorf("%s: needs a source and a destination", at)
			}
			for _, w := range words[:len(words)-1] {
				c.Src = append(c.Src, expand(w))
			}
			c.Dst = expand(words[len(words)-1])
			cur.Copies = append(cur.Copies, c)
		case "EXPOSE", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD":
		default:
			return nil, fmt.Errorf("%s: unknown instruction", at)
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

// expandVars replaces $NAME, ${NAME} and ${NAME:-default} in s by the
// stage's environment variable or, failing that, its build argument.
func expandVars(s string, args, env map[string]string) string {
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		sm := varRe.FindStringSubmatch(m)
		name := sm[2] + sm[5]
		// As in docker build, ENV wins over an ARG of the same name.
		if v, ok := env[name]; ok && v != "" {
			return v
		}
		if v, ok := args[name]; ok && v != "" {
			return v
		}
		return sm[4]
	})
}

func inherit(dst, src *Stage) {
	for k, v := range src.Env {
		dst.Env[k] = v
	}
	for k, v := range src.Labels {
		dst.Labels[k] = v
	}
	dst.Entrypoint, dst.ShellEntrypoint, dst.Cmd = src.Entrypoint, src.ShellEntrypoint, src.Cmd
	dst.User, dst.WorkDir = src.User, src.WorkDir
}

type line struct {
	n    int
	text string
}

// logicalLines joins continuation lines and drops comments, blank lines
// and parser directives.
func logicalLines(r io.Reader) ([]line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var out []line
	var b strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		t := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(t, "#") {
			continue // comments, also inside a continued instruction
		}
		if b.Len() == 0 {
			if t == "" {
				continue
			}
			start = n
		}
		if cont, ok := strings.CutSuffix(t, `\`); ok {
			b.WriteString(strings.TrimSpace(cont))
			b.WriteString(" ")
			continue
		}
		b.WriteString(t)
		out = append(out, line{n: start, text: strings.TrimSpace(b.String())})
		b.Reset()
	}
	if b.Len() > 0 {
		return nil, fmt.Errorf("line %d: the file ends inside a continued instruction", start)
	}
	return out, sc.Err()
}

// fields splits s into words the way Dockerfile instructions read them:
// on unquoted blanks, with "..." and '...' quoting and \ escaping inside
// double quotes.
func fields(s string) []string {
	var out []string
	var w strings.Builder
	inWord := false
	var quote rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				continue
			}
			if c == '\\' && quote == '"' && i+1 < len(rs) {
				i++
				c = rs[i]
			}
			w.WriteRune(c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\\' && i+1 < len(rs):
			i++
			w.WriteRune(rs[i])
			inWord = true
		default:
			w.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}
