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

	"github.com/fileconv/fileconv/internal/wire"
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

var menuLabels = map[wire.Operation]string{
	wire.OpToJPEG:    "JPEG",
	wire.OpToPNG:     "PNG",
	wire.OpToWEBP:    "WEBP",
	wire.OpTextToPDF: "PDF (from text)",
	wire.OpPDFToText: "TXT (the text of every page)",
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
		ops := targets(group[0].kind)
		var names []string
		for _, j := range group {
			names = append(names, j.in)
		}
		if len(names) > 3 {
			names = append(names[:3], fmt.Sprintf("and %d more", len(names)-3))
		}
		what := describeKind(group[0].kind)
		if fam == "image" {
			what = "images"
			if len(group) == 1 {
				what = describeKind(group[0].kind)
			}
		}
		fmt.Fprintf(out, "%s (%s). Convert to:\n", strings.Join(names, ", "), what)
		for _, op := range ops {
			fmt.Fprintf(out, "  %d. %s\n", uint32(op), menuLabels[op])
		}
		op, err := ask(br, out, ops)
		if err != nil {
			return err
		}
		for _, j := range group {
			j.op = op
		}
	}
	return nil
}

func ask(br *bufio.Reader, out io.Writer, ops []wire.Operation) (wire.Operation, error) {
	var nums []string
	for _, op := range ops {
		nums = append(nums, strconv.Itoa(int(op)))
	}
	for {
		if len(ops) == 1 {
			fmt.Fprintf(out, "Choice [%s]: ", nums[0])
		} else {
			fmt.Fprintf(out, "Choice (%s): ", strings.Join(nums, ", "))
		}
		line, err := br.ReadString('\n')
		answer := strings.TrimSpace(line)
		if answer == "" && len(ops) == 1 && err == nil {
			return ops[0], nil
		}
		if answer != "" {
			if op, perr := wire.ParseOperation(answer); perr == nil && slices.Contains(ops, op) {
				return op, nil
			}
			fmt.Fprintf(out, "%q is not one of the choices.\n", answer)
		}
		if err != nil {
			fmt.Fprintln(out)
			return 0, fmt.Errorf("%w: no target chosen: give --to jpg|png|webp|pdf|txt", errUsage)
		}
	}
}
