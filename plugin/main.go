// Command plugin is the sshenrich Fluent Bit output, built with
// -buildmode=c-shared into out_sshenrich.so. Fluent Bit has no Go
// filters, so sshenrich is an output that re-emits every record,
// enriched, into the pipeline over the Forward protocol (DESIGN.md §2).
//
// This file holds only the exports Fluent Bit's Go proxy calls; each
// recovers from panics, so that a bug never takes Fluent Bit down.
package main

import "C"

import (
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (ret C.int) {
	defer recoverTo(&ret, -1, nil, "register")
	return C.int(output.FLBPluginRegister(def, "sshenrich", "Classify SSH and VPN log lines and re-emit them enriched (ECS)"))
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (ret C.int) {
	defer recoverTo(&ret, output.FLB_ERROR, newLogger(plugin, "init"), "init")
	in, err := newInstance(plugin)
	if err != nil {
		return output.FLB_ERROR
	}
	setContext(plugin, in)
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) (ret C.int) {
	in := instanceOf(ctx)
	if in == nil {
		return output.FLB_ERROR
	}
	// A panic outside enrichment (which recovers on its own, re-emitting
	// the records unchanged) leaves delivery unknown: FLB_RETRY lets the
	// engine try the chunk again rather than drop it.
	defer recoverTo(&ret, output.FLB_RETRY, in.log, "flush")
	// data and tag belong to Fluent Bit and live only during this call;
	// the flush path reads them in place and copies what it sends.
	chunkData := unsafe.Slice((*byte)(data), int(length))
	return C.int(in.flush(chunkData, C.GoString(tag)))
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (ret C.int) {
	in := instanceOf(ctx)
	if in == nil {
		return output.FLB_OK
	}
	defer recoverTo(&ret, output.FLB_ERROR, in.log, "exit")
	forget(ctx)
	in.close()
	stopProfile()
	return output.FLB_OK
}

// FLBPluginExit serves hosts that do not call FLBPluginExitCtx.
//
//export FLBPluginExit
func FLBPluginExit() (ret C.int) {
	defer recoverTo(&ret, output.FLB_ERROR, nil, "exit")
	closeAll()
	stopProfile()
	return output.FLB_OK
}

func main() {}
