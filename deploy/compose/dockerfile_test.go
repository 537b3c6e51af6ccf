package compose

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// dockerfile is what the checks need of a Dockerfile: its stages, each stage's base and
// USER, and the instructions. It reads the Dockerfile syntax's parts that matter here (line
// continuations, comments, global ARG defaults, FROM ... AS, USER); no BuildKit runs.
type dockerfile struct {
	path       string
	globalArgs map[string]string
	stages     []*stage
}

// stage is one FROM and the instructions under it.
type stage struct {
	name string // as in FROM ... AS name, lower-cased; "" when unnamed
	base string // image or stage name, global ARGs expanded
	line int
	user string // the last USER in the stage; "" when it sets none
	// instructions are the stage's logical lines, keyword upper-cased.
	instructions []instruction
}

// instruction is one logical line: keyword and the rest.
type instruction struct {
	keyword string
	rest    string
	line    int
}

// logicalLines joins continued lines and drops comments and blank lines.
func logicalLines(data []byte) ([]instruction, error) {
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, continued := strings.CutSuffix(line, `\`); continued {
			cur.WriteString(body)
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		kw, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{keyword: strings.ToUpper(kw), rest: strings.TrimSpace(rest), line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading lines: %w", err)
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation runs past the end of the file", start)
	}
	return out, nil
}

// parseDockerfile reads the Dockerfile at path.
func parseDockerfile(path string) (*dockerfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	lines, err := logicalLines(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	d := &dockerfile{path: path, globalArgs: map[string]string{}}
	for _, in := range lines {
		switch {
		case in.keyword == "ARG" && len(d.stages) == 0:
			for _, a := range strings.Fields(in.rest) {
				name, def, _ := strings.Cut(a, "=")
				d.globalArgs[name] = strings.Trim(def, `"'`)
			}
		case in.keyword == "FROM":
			st, err := d.from(in)
			if err != nil {
				return nil, fmt.Errorf("parsing %s: %w", path, err)
			}
			d.stages = append(d.stages, st)
		case len(d.stages) == 0:
			return nil, fmt.Errorf("parsing %s: line %d: %s before the first FROM", path, in.line, in.keyword)
		default:
			st := d.stages[len(d.stages)-1]
			st.instructions = append(st.instructions, in)
			if in.keyword == "USER" {
				st.user = in.rest
			}
		}
	}
	if len(d.stages) == 0 {
		return nil, fmt.Errorf("parsing %s: no FROM", path)
	}
	return d, nil
}

func (d *dockerfile) from(in instruction) (*stage, error) {
	var words []string
	for _, w := range strings.Fields(in.rest) {
		if !strings.HasPrefix(w, "--") { // --platform=...
			words = append(words, w)
		}
	}
	st := &stage{line: in.line}
	switch {
	case len(words) == 1:
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		st.name = strings.ToLower(words[2])
	default:
		return nil, fmt.Errorf("line %d: FROM %s: want FROM [--flags] image [AS name]", in.line, in.rest)
	}
	st.base = os.Expand(words[0], func(k string) string { return d.globalArgs[k] })
	if d.stage(st.name) != nil && st.name != "" {
		return nil, fmt.Errorf("line %d: stage %q is defined twice", in.line, st.name)
	}
	return st, nil
}

// stage returns the stage named name (case-insensitive), or nil.
func (d *dockerfile) stage(name string) *stage {
	for _, st := range d.stages {
		if st.name != "" && st.name == strings.ToLower(name) {
			return st
		}
	}
	return nil
}

// stageNames lists the named stages, in order.
func (d *dockerfile) stageNames() []string {
	var names []string
	for _, st := range d.stages {
		if st.name != "" {
			names = append(names, st.name)
		}
	}
	return names
}

// effectiveUser is the user a stage's containers run as: its own last USER, else the one
// inherited from the stage it is built FROM; "" means the base image's, root for every
// image this repository starts from.
func (d *dockerfile) effectiveUser(st *stage) string {
	for seen := 0; st != nil && seen <= len(d.stages); seen++ {
		if st.user != "" {
			return st.user
		}
		st = d.stage(st.base)
	}
	return ""
}

// rootUser reports whether a USER value means root: empty, "root" or uid 0, with any group.
func rootUser(user string) bool {
	u, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	return u == "" || u == "root" || strings.TrimLeft(u, "0") == "" && u != ""
}

// externalBases are the images the Dockerfile pulls: bases that are not its own stages.
func (d *dockerfile) externalBases() []*stage {
	var out []*stage
	for _, st := range d.stages {
		if d.stage(st.base) == nil {
			out = append(out, st)
		}
	}
	return out
}

// pinnedTag reports whether an image reference names a version: a digest, or a tag other
// than latest.
func pinnedTag(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest" && !strings.Contains(tag, "$")
}

// copySources are the build-context paths of COPY and ADD instructions that read the
// context (no --from), in every stage.
func (d *dockerfile) copySources() []string {
	var out []string
	for _, st := range d.stages {
		for _, in := range st.instructions {
			if in.keyword != "COPY" && in.keyword != "ADD" {
				continue
			}
			var words []string
			fromStage := false
			for _, w := range strings.Fields(in.rest) {
				if strings.HasPrefix(w, "--from=") {
					fromStage = true
				}
				if !strings.HasPrefix(w, "--") {
					words = append(words, w)
				}
			}
			if !fromStage && len(words) >= 2 {
				out = append(out, words[:len(words)-1]...)
			}
		}
	}
	return out
}

// goBuildPackages are the package paths (./worker, ...) of the go build commands in RUN
// instructions.
func (d *dockerfile) goBuildPackages() []string {
	var out []string
	for _, st := range d.stages {
		for _, in := range st.instructions {
			if in.keyword != "RUN" {
				continue
			}
			_, build, ok := strings.Cut(in.rest, "go build")
			if !ok {
				continue
			}
			for _, w := range strings.Fields(build) {
				if strings.HasPrefix(w, "./") {
					out = append(out, w)
				}
			}
		}
	}
	return out
}
