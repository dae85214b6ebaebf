package seccomp

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/net/bpf"
)

// label names a position in the program that jumps can target. Classic BPF
// only jumps forward, so a label must be marked after every jump to it.
type label int

// next is the label of the op right after a jump.
const next label = 0

// op is one instruction of the program before jump offsets are known.
type op struct {
	ins bpf.Instruction // non-jump instruction; nil for jumps

	// conditional jump: if A <test> k goto jt else goto jf
	cond   bool
	test   bpf.JumpTest
	k      uint32
	jt, jf label
	// longT/longF are set by resolve when a target is more than 255
	// instructions away: the 8-bit jt/jf fields cannot reach it, so the
	// jump lands on an unconditional "ja" (32-bit offset) emitted right
	// after it instead.
	longT, longF bool

	ja     bool // unconditional jump to target
	target label
}

// size is the number of BPF instructions op becomes.
func (o *op) size() int {
	n := 1
	if o.longT {
		n++
	}
	if o.longF {
		n++
	}
	return n
}

// asm builds a classic BPF program with symbolic forward jumps.
//
// Why not elastic/go-seccomp-bpf's own Program and Policy.Assemble: its
// label assembler can only emit jumps, argument loads and returns (no reload of
// the syscall number, no ALU "and" for SCMP_CMP_MASKED_EQ), and its group
// assembler compares the next syscall number against whatever an argument check
// left in the accumulator. With v1.6.0, a policy "personality(0) allowed, mount
// allowed" lets personality(165) through, 165 being mount's number on x86_64.
// Here every argument check happens in a leaf of the syscall-number tree, and a
// leaf always ends in a return, so the accumulator never leaks into a
// syscall-number comparison.
type asm struct {
	ops    []op
	labels map[label]int // label -> index in ops of the instruction it marks
	last   label
}

func newAsm() *asm {
	return &asm{labels: map[label]int{}}
}

func (as *asm) newLabel() label {
	as.last++
	return as.last
}

// mark places l on the next instruction emitted.
func (as *asm) mark(l label) {
	as.labels[l] = len(as.ops)
}

func (as *asm) emit(ins bpf.Instruction) {
	as.ops = append(as.ops, op{ins: ins})
}

// ld loads the 32-bit word of seccomp_data at off into the accumulator.
func (as *asm) ld(off uint32) {
	as.emit(bpf.LoadAbsolute{Off: off, Size: 4})
}

func (as *asm) ret(v uint32) {
	as.emit(bpf.RetConstant{Val: v})
}

func (as *asm) and(mask uint32) {
	as.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
}

func (as *asm) jmp(test bpf.JumpTest, k uint32, jt, jf label) {
	as.ops = append(as.ops, op{cond: true, test: test, k: k, jt: jt, jf: jf})
}

func (as *asm) jumpTo(l label) {
	as.ops = append(as.ops, op{ja: true, target: l})
}

// assemble resolves the labels and returns the program.
//
// Long conditional jumps are found by relaxation: lay out the program with the
// current sizes, turn every jump whose target is out of 8-bit reach into the
// long form, and repeat until nothing changes. Sizes only grow, so it ends.
func (as *asm) assemble() ([]bpf.Instruction, error) {
	if len(as.ops) == 0 {
		return nil, errors.New("empty program")
	}
	for l, idx := range as.labels {
		if idx >= len(as.ops) {
			return nil, fmt.Errorf("label %d marks the end of the program", l)
		}
	}
	pos := make([]int, len(as.ops)+1)
	target := func(from int, l label) (int, error) {
		idx, ok := as.labels[l]
		if l == next {
			// The next op, which is past this op's own trampolines.
			idx, ok = from+1, true
		}
		if !ok {
			return 0, fmt.Errorf("label %d never marked", l)
		}
		off := pos[idx] - (pos[from] + 1)
		if off < 0 {
			return 0, fmt.Errorf("backward jump to label %d", l)
		}
		return off, nil
	}
	for changed := true; changed; {
		changed = false
		for i := range as.ops {
			pos[i+1] = pos[i] + as.ops[i].size()
		}
		for i := range as.ops {
			o := &as.ops[i]
			if !o.cond {
				continue
			}
			t, err := target(i, o.jt)
			if err != nil {
				return nil, err
			}
			f, err := target(i, o.jf)
			if err != nil {
				return nil, err
			}
			if t > math.MaxUint8 && !o.longT {
				o.longT, changed = true, true
			}
			if f > math.MaxUint8 && !o.longF {
				o.longF, changed = true, true
			}
		}
	}

	out := make([]bpf.Instruction, 0, pos[len(as.ops)])
	for i := range as.ops {
		o := &as.ops[i]
		switch {
		case o.ja:
			off, err := target(i, o.target)
			if err != nil {
				return nil, err
			}
			out = append(out, bpf.Jump{Skip: uint32(off)})
		case o.cond:
			t, err := target(i, o.jt)
			if err != nil {
				return nil, err
			}
			f, err := target(i, o.jf)
			if err != nil {
				return nil, err
			}
			// The "ja" trampolines sit right after the conditional jump,
			// jt's first. A short offset is still measured from the
			// instruction after the jump, trampolines included, which is
			// what target computed from the final layout.
			j := bpf.JumpIf{Cond: o.test, Val: o.k, SkipTrue: uint8(t), SkipFalse: uint8(f)}
			if o.longT {
				j.SkipTrue = 0
			}
			if o.longF {
				j.SkipFalse = 0
				if o.longT {
					j.SkipFalse = 1
				}
			}
			out = append(out, j)
			// A trampoline at position p+1 (or p+2) reaches the same
			// target with an offset one (or two) smaller.
			if o.longT {
				out = append(out, bpf.Jump{Skip: uint32(t - 1)})
			}
			if o.longF {
				skip := f - 1
				if o.longT {
					skip = f - 2
				}
				out = append(out, bpf.Jump{Skip: uint32(skip)})
			}
		default:
			out = append(out, o.ins)
		}
	}
	return out, nil
}
