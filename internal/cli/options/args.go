package options

import (
	"strconv"

	"github.com/spf13/pflag"
)

// flagSet is an options struct: *T registers T's flags.
type flagSet[T any] interface {
	*T
	AddFlags(*pflag.FlagSet)
}

// Defaults returns options as a command line without flags gives them: every field at its
// flag's default. Code that builds options without parsing a command line (seal action)
// starts from here, so that it runs with the defaults the verb has.
func Defaults[T any, P flagSet[T]]() *T {
	o := new(T)
	P(o).AddFlags(pflag.NewFlagSet("defaults", pflag.ContinueOnError))
	return o
}

// Args renders o as the flags that give it, in the order the verb declares them, leaving out
// flags at their default. It shows users the command that repeats what a step ran; nothing
// parses it back.
func Args[T any, P flagSet[T]](o *T) []string {
	var c T
	fs := pflag.NewFlagSet("args", pflag.ContinueOnError)
	fs.SortFlags = false
	P(&c).AddFlags(fs)
	c = *o // the flags read the fields of c
	var args []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Value.String() == f.DefValue {
			return
		}
		name := "--" + f.Name
		switch v := f.Value.(type) {
		case pflag.SliceValue:
			for _, s := range v.GetSlice() {
				args = append(args, name, s)
			}
		default:
			if f.Value.Type() == "bool" {
				if b, _ := strconv.ParseBool(f.Value.String()); b {
					args = append(args, name)
				} else {
					args = append(args, name+"=false")
				}
				return
			}
			args = append(args, name, f.Value.String())
		}
	})
	return args
}
