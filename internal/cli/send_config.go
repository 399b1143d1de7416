package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// defaultConfigPath is $XDG_CONFIG_HOME/fileconv/config, else
// ~/.config/fileconv/config; "" when neither can be known.
func defaultConfigPath() string {
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "fileconv", "config")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "fileconv", "config")
}

// applyConfig fills the flags that neither the command line nor the environment
// set from a config file of "key = value" lines, keys being flag names. So the
// order of precedence is: flags, environment, config file, defaults. A missing
// default file is no error; a missing file named with --config is.
func applyConfig(fs *flag.FlagSet, path string, explicit bool) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%w: config: %w", errUsage, err)
	}
	defer f.Close()
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimLeft(strings.TrimSpace(key), "-")
		if !ok || key == "" {
			return fmt.Errorf("%w: %s:%d: write key = value, e.g. addr = conv.example.com:5000", errUsage, path, line)
		}
		value = unquote(strings.TrimSpace(value))
		if rest, ok := strings.CutPrefix(value, "~/"); ok {
			if home, err := os.UserHomeDir(); err == nil {
				value = filepath.Join(home, rest)
			}
		}
		if key == "config" || fs.Lookup(key) == nil {
			return fmt.Errorf("%w: %s:%d: unknown setting %q: use the name of a send flag, such as addr, token-file or to", errUsage, path, line, key)
		}
		if set[key] {
			continue
		}
		if err := fs.Set(key, value); err != nil {
			return fmt.Errorf("%w: %s:%d: %s: %w", errUsage, path, line, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
