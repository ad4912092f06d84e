package local

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTheDataFolderIsPrivate(t *testing.T) {
	parent := t.TempDir()
	fresh := filepath.Join(parent, "fresh", ".data")
	open := filepath.Join(parent, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	for _, dir := range []string{fresh, open} {
		if err := prepareDataDir(dir); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o700 {
			t.Errorf("%s: mode %o, want 700", dir, perm)
		}
	}
}
