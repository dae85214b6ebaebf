package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"golang.org/x/sys/unix"
)

// Program is a classic BPF program. Exec's joined process gets it compiled,
// as JSON, where it is encoded as its raw instructions (8 little-endian
// bytes each, base64): decoding an array of objects instead took ten times
// as long (0.4 ms for the default profile), on the path of every `ctr exec`
// and healthcheck.
type Program []unix.SockFilter

const instructionSize = 8

// MarshalJSON implements json.Marshaler.
func (p Program) MarshalJSON() ([]byte, error) {
	raw := make([]byte, instructionSize*len(p))
	for i, in := range p {
		b := raw[instructionSize*i:]
		binary.LittleEndian.PutUint16(b, in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.LittleEndian.PutUint32(b[4:], in.K)
	}
	return json.Marshal(raw)
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Program) UnmarshalJSON(data []byte) error {
	var raw []byte
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("seccomp program: %w", err)
	}
	if len(raw)%instructionSize != 0 {
		return fmt.Errorf("seccomp program: %d bytes is not a whole number of instructions", len(raw))
	}
	prog := make(Program, len(raw)/instructionSize)
	for i := range prog {
		b := raw[instructionSize*i:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	*p = prog
	return nil
}
