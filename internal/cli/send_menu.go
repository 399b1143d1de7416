package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/fileconv/fileconv/internal/convert"
)

// stdin is what the interactive menu reads; a variable so tests can give it a
// pseudo-terminal.
var stdin io.Reader = os.Stdin

// isTerminal reports whether v is a terminal, the only place progress bars and
// menus make sense.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func terminalWidth(v any) int {
	if f, ok := v.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// chooseTargets asks, once per family of input types (images, text, PDF), what
// to convert to, offering only the targets that fit, numbered as operations are,
// like the original client's menu. It sets each job's operation.
func chooseTargets(jobs []*sendJob, in io.Reader, out io.Writer) error {
	var order []string
	byFamily := map[string][]*sendJob{}
	for _, j := range jobs {
		if j.err != nil || j.skip != "" || targets(j.kind) == nil {
			continue
		}
		fam := family(j.kind)
		if byFamily[fam] == nil {
			order = append(order, fam)
		}
		byFamily[fam] = append(byFamily[fam], j)
	}
	br := bufio.NewReader(in)
	for _, fam := range order {
		group := byFamily[fam]
		choices := targets(group[0].kind)
		var names []string
		for _, j := range group {
			names = append(names, j.in)
		}
		if len(names) > 3 {
			names = append(names[:3], fmt.Sprintf("and %d more", len(names)-3))
		}
		what := describeGroup(group)
		fmt.Fprintf(out, "%s (%s). Convert to:\n", strings.Join(names, ", "), what)
		for i, to := range choices {
			t, _ := convert.LookupTarget(to)
			fmt.Fprintf(out, "  %d. %s (%s)\n", i+1, to, t.Label)
		}
		to, err := ask(br, out, choices)
		if err != nil {
			return err
		}
		for _, j := range group {
			j.to = to
		}
	}
	return nil
}

// describeGroup names what a menu is about: one kind, or "images" for several.
func describeGroup(group []*sendJob) string {
	for _, j := range group[1:] {
		if j.kind != group[0].kind {
			if group[0].kind.IsImage() {
				return "images"
			}
			return "files"
		}
	}
	return describeKind(group[0].kind)
}

// ask reads a choice: its number in the menu, or a target's name.
func ask(br *bufio.Reader, out io.Writer, choices []string) (string, error) {
	var nums []string
	for i := range choices {
		nums = append(nums, strconv.Itoa(i+1))
	}
	for {
		switch len(choices) {
		case 1:
			fmt.Fprintf(out, "Choice [%s]: ", nums[0])
		case 2, 3:
			fmt.Fprintf(out, "Choice (%s): ", strings.Join(nums, ", "))
		default:
			fmt.Fprintf(out, "Choice (1-%d): ", len(choices))
		}
		line, err := br.ReadString('\n')
		answer := strings.TrimSpace(line)
		if answer == "" && len(choices) == 1 && err == nil {
			return choices[0], nil
		}
		if answer != "" {
			if n, perr := strconv.Atoi(answer); perr == nil && n >= 1 && n <= len(choices) {
				return choices[n-1], nil
			}
			if t, ok := convert.LookupTarget(answer); ok && slices.Contains(choices, t.Name) {
				return t.Name, nil
			}
			fmt.Fprintf(out, "%q is not one of the choices.\n", answer)
		}
		if err != nil {
			fmt.Fprintln(out)
			return "", fmt.Errorf("%w: no target chosen: give --to %s", errUsage, strings.Join(choices, "|"))
		}
	}
}
