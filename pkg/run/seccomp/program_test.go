package seccomp

import (
	"encoding/json"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProgramJSON(t *testing.T) {
	want := Program{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offArch},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 255, K: 0xc000003e},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0x7fff0000},
	}
	b, err := json.Marshal(Filter{Program: want, Flags: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got Filter
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Program, want) || got.Flags != 2 {
		t.Errorf("round trip of %s = %+v, want %+v", b, got.Program, want)
	}

	var empty Program
	if err := json.Unmarshal([]byte(`""`), &empty); err != nil || len(empty) != 0 {
		t.Errorf("empty program: %v, %v", empty, err)
	}
	for _, bad := range []string{`"AAAA"`, `[1,2]`, `"!!"`} {
		var p Program
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", bad, p)
		}
	}
}
