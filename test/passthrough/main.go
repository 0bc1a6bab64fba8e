// Command passthrough is a Fluent Bit Go output that decodes each chunk
// and re-emits its events unchanged, with the same Forward emitter as
// sshenrich. Measured beside sshenrich in the same host program, it
// shows what the enrichment itself costs.
package main

import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/plugin/emit"
)

type instance struct {
	fw        *emit.Forward
	tagPrefix string
}

type getter struct{ plugin unsafe.Pointer }

func (g getter) Get(key string) string { return output.FLBPluginConfigKey(g.plugin, key) }

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) C.int {
	return C.int(output.FLBPluginRegister(def, "passthrough", "Decode and re-emit records unchanged"))
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) C.int {
	cfg, err := config.Parse(getter{plugin}, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passthrough:", err)
		return output.FLB_ERROR
	}
	fw, err := emit.NewForward(cfg.Forward, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "passthrough:", err)
		return output.FLB_ERROR
	}
	output.FLBPluginSetContext(plugin, &instance{fw: fw, tagPrefix: cfg.TagPrefix})
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) C.int {
	in, _ := output.FLBPluginGetContext(ctx).(*instance)
	if in == nil {
		return output.FLB_ERROR
	}
	var out []byte
	n := 0
	d := chunk.NewDecoder(unsafe.Slice((*byte)(data), int(length)))
	for d.Next() {
		out = append(out, d.Event().Raw...)
		n++
	}
	if err := in.fw.Emit(in.tagPrefix+C.GoString(tag), out, n); err != nil {
		return output.FLB_RETRY
	}
	return output.FLB_OK
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) C.int {
	if in, _ := output.FLBPluginGetContext(ctx).(*instance); in != nil {
		_ = in.fw.Close()
	}
	return output.FLB_OK
}

func main() {}
