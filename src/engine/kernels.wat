;; longiseg's WebAssembly kernels, run on the tfjs wasm heap (imported as env.memory) by
;; src/engine/wasm-kernels.ts. Offsets are bytes. Build: npm run build:wasm (writes kernels-wasm.ts).
(module
  (import "env" "memory" (memory 1))
  ;; adam: one Adam step over float32 arrays, four lanes at a time (PyTorch's order of operations,
  ;; in float32 as torch.optim.Adam computes it on CPUs):
  ;;   m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
  ;;   out ← w − stepSize·m / (√v·rootScale + ε)
  ;; m and v are updated in place; w is read and out written (a new tensor: tensors are never changed).
  ;; oneMinusBeta1 and oneMinusBeta2 come rounded from float64, as PyTorch passes them; count is in
  ;; elements.
  (func (export "adam")
    (param $g i32) (param $m i32) (param $v i32) (param $w i32) (param $out i32) (param $count i32)
    (param $beta1 f32) (param $oneMinusBeta1 f32) (param $beta2 f32) (param $oneMinusBeta2 f32) (param $stepSize f32) (param $rootScale f32) (param $epsilon f32)
    (local $at i32) (local $vectorEnd i32) (local $end i32)
    (local $b1 v128) (local $c1 v128) (local $b2 v128) (local $c2 v128) (local $s v128) (local $r v128) (local $e v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $b1 (f32x4.splat (local.get $beta1)))
    (local.set $c1 (f32x4.splat (local.get $oneMinusBeta1)))
    (local.set $b2 (f32x4.splat (local.get $beta2)))
    (local.set $c2 (f32x4.splat (local.get $oneMinusBeta2)))
    (local.set $s (f32x4.splat (local.get $stepSize)))
    (local.set $r (f32x4.splat (local.get $rootScale)))
    (local.set $e (f32x4.splat (local.get $epsilon)))
    (local.set $vectorEnd (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $at) (local.get $vectorEnd)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $at))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $b1) (v128.load (i32.add (local.get $m) (local.get $at))))
            (f32x4.mul (local.get $c1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $b2) (v128.load (i32.add (local.get $v) (local.get $at))))
            (f32x4.mul (local.get $c2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $m) (local.get $at)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $at)) (local.get $vv))
        (v128.store (i32.add (local.get $out) (local.get $at))
          (f32x4.sub
            (v128.load (i32.add (local.get $w) (local.get $at)))
            (f32x4.div
              (f32x4.mul (local.get $s) (local.get $mv))
              (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $r)) (local.get $e)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $vectors)))
    ;; the last count mod 4 elements, one at a time
    (block $scalarsDone
      (loop $scalars
        (br_if $scalarsDone (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $at))))
        (local.set $ms
          (f32.add
            (f32.mul (local.get $beta1) (f32.load (i32.add (local.get $m) (local.get $at))))
            (f32.mul (local.get $oneMinusBeta1) (local.get $gs))))
        (local.set $vs
          (f32.add
            (f32.mul (local.get $beta2) (f32.load (i32.add (local.get $v) (local.get $at))))
            (f32.mul (local.get $oneMinusBeta2) (f32.mul (local.get $gs) (local.get $gs)))))
        (f32.store (i32.add (local.get $m) (local.get $at)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $at)) (local.get $vs))
        (f32.store (i32.add (local.get $out) (local.get $at))
          (f32.sub
            (f32.load (i32.add (local.get $w) (local.get $at)))
            (f32.div
              (f32.mul (local.get $stepSize) (local.get $ms))
              (f32.add (f32.mul (f32.sqrt (local.get $vs)) (local.get $rootScale)) (local.get $epsilon)))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $scalars))))
  ;; copyBlocks: count blocks of `bytes` bytes (a multiple of 4) from src to dst, the block starts
  ;; advancing by srcStride and dstStride: the column matrices of the 3D convolution.
  (func (export "copyBlocks")
    (param $dst i32) (param $dstStride i32) (param $src i32) (param $srcStride i32) (param $bytes i32) (param $count i32)
    (local $at i32) (local $vectorBytes i32)
    (local.set $vectorBytes (i32.and (local.get $bytes) (i32.const -16)))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.eqz (local.get $count)))
        (local.set $at (i32.const 0))
        (block $vectorsDone
          (loop $vectors
            (br_if $vectorsDone (i32.ge_u (local.get $at) (local.get $vectorBytes)))
            (v128.store (i32.add (local.get $dst) (local.get $at)) (v128.load (i32.add (local.get $src) (local.get $at))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $vectors)))
        (block $wordsDone
          (loop $words
            (br_if $wordsDone (i32.ge_u (local.get $at) (local.get $bytes)))
            (i32.store (i32.add (local.get $dst) (local.get $at)) (i32.load (i32.add (local.get $src) (local.get $at))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (br $words)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $blocks)))))

