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
  ;; markNonFinite: stores 1 at `flag` (an i32) when one of `count` float32 values from `at` is NaN or
  ;; infinite (x − x is NaN for those alone); otherwise leaves it. A gradient's check before Adam's update.
  (func (export "markNonFinite") (param $at i32) (param $count i32) (param $flag i32)
    (local $end i32) (local $vectorEnd i32) (local $seen v128) (local $x v128) (local $xs f32)
    (local.set $vectorEnd (i32.add (local.get $at) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $count) (i32.const 2))))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $at) (local.get $vectorEnd)))
        (local.set $x (v128.load (local.get $at)))
        (local.set $x (f32x4.sub (local.get $x) (local.get $x)))
        (local.set $seen (v128.or (local.get $seen) (f32x4.ne (local.get $x) (local.get $x))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $vectors)))
    (block $scalarsDone
      (loop $scalars
        (br_if $scalarsDone (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $xs (f32.load (local.get $at)))
        (local.set $xs (f32.sub (local.get $xs) (local.get $xs)))
        (if (f32.ne (local.get $xs) (local.get $xs)) (then (local.set $seen (v128.const i32x4 -1 0 0 0))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $scalars)))
    (if (v128.any_true (local.get $seen)) (then (i32.store (local.get $flag) (i32.const 1)))))
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
        (br $blocks))))
  ;; zeroBytes: `bytes` zero bytes from dst (the column matrices and sums that kernels then fill or add into).
  (func (export "zeroBytes") (param $dst i32) (param $bytes i32)
    (memory.fill (local.get $dst) (i32.const 0) (local.get $bytes)))
  ;; addBlocks: as copyBlocks, but adds the float32 blocks of src to those of dst (the x taps of the
  ;; 3D convolution, summed or scattered along a line).
  (func (export "addBlocks")
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
            (v128.store (i32.add (local.get $dst) (local.get $at))
              (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $at))) (v128.load (i32.add (local.get $src) (local.get $at)))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $vectors)))
        (block $wordsDone
          (loop $words
            (br_if $wordsDone (i32.ge_u (local.get $at) (local.get $bytes)))
            (f32.store (i32.add (local.get $dst) (local.get $at))
              (f32.add (f32.load (i32.add (local.get $dst) (local.get $at))) (f32.load (i32.add (local.get $src) (local.get $at)))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (br $words)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $blocks))))
  ;; Batch normalisation over rows of `channels` floats (a multiple of 4); `end` is the byte offset
  ;; just past the data. Per-channel parameters are arrays of float32 (…32) or float64 (…64).
  ;; Statistics and gradient sums are accumulated in float64, as src/engine/ops.ts's JS loops.
  ;;
  ;; channelSums: sums64[c] += Σ x, or, with `centred`, Σ (x − mean64[c])².
  (func (export "channelSums")
    (param $data i32) (param $end i32) (param $channels i32) (param $centred i32) (param $mean64 i32) (param $sums64 i32)
    (local $rowBytes i32) (local $c i32) (local $x v128) (local $lo v128) (local $hi v128)
    (local.set $rowBytes (i32.shl (local.get $channels) (i32.const 2)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $data) (local.get $end)))
        (local.set $c (i32.const 0))
        (loop $columns
          (local.set $x (v128.load (i32.add (local.get $data) (local.get $c))))
          (local.set $lo (f64x2.promote_low_f32x4 (local.get $x)))
          (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
          (if (local.get $centred)
            (then
              (local.set $lo (f64x2.sub (local.get $lo) (v128.load (i32.add (local.get $mean64) (i32.shl (local.get $c) (i32.const 1))))))
              (local.set $hi (f64x2.sub (local.get $hi) (v128.load offset=16 (i32.add (local.get $mean64) (i32.shl (local.get $c) (i32.const 1))))))
              (local.set $lo (f64x2.mul (local.get $lo) (local.get $lo)))
              (local.set $hi (f64x2.mul (local.get $hi) (local.get $hi)))))
          (call $accumulate64 (i32.add (local.get $sums64) (i32.shl (local.get $c) (i32.const 1))) (local.get $lo) (local.get $hi))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $columns (i32.lt_u (local.get $c) (local.get $rowBytes))))
        (local.set $data (i32.add (local.get $data) (local.get $rowBytes)))
        (br $rows))))
  (func $accumulate64 (param $at i32) (param $lo v128) (param $hi v128)
    (v128.store (local.get $at) (f64x2.add (v128.load (local.get $at)) (local.get $lo)))
    (v128.store offset=16 (local.get $at) (f64x2.add (v128.load offset=16 (local.get $at)) (local.get $hi))))
  ;; normaliseRows: y = scale32[c]·x + shift32[c], then max(y, 0) with `relu`.
  (func (export "normaliseRows")
    (param $y i32) (param $data i32) (param $end i32) (param $channels i32) (param $scale32 i32) (param $shift32 i32) (param $relu i32)
    (local $rowBytes i32) (local $c i32) (local $v v128)
    (local.set $rowBytes (i32.shl (local.get $channels) (i32.const 2)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $data) (local.get $end)))
        (local.set $c (i32.const 0))
        (loop $columns
          (local.set $v (call $affine (i32.add (local.get $data) (local.get $c)) (local.get $c) (local.get $scale32) (local.get $shift32)))
          (if (local.get $relu) (then (local.set $v (f32x4.pmax (local.get $v) (v128.const f32x4 0 0 0 0)))))
          (v128.store (i32.add (local.get $y) (local.get $c)) (local.get $v))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $columns (i32.lt_u (local.get $c) (local.get $rowBytes))))
        (local.set $data (i32.add (local.get $data) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (local.get $rowBytes)))
        (br $rows))))
  (func $affine (param $at i32) (param $c i32) (param $scale32 i32) (param $shift32 i32) (result v128)
    (f32x4.add
      (f32x4.mul (v128.load (local.get $at)) (v128.load (i32.add (local.get $scale32) (local.get $c))))
      (v128.load (i32.add (local.get $shift32) (local.get $c)))))
  ;; The gradient behind the ReLU (the forward's mask, recomputed) or, without `relu`, dy itself.
  (func $masked (param $g i32) (param $data i32) (param $c i32) (param $scale32 i32) (param $shift32 i32) (param $relu i32) (result v128)
    (if (result v128) (local.get $relu)
      (then (v128.and (v128.load (local.get $g)) (f32x4.gt (call $affine (local.get $data) (local.get $c) (local.get $scale32) (local.get $shift32)) (v128.const f32x4 0 0 0 0))))
      (else (v128.load (local.get $g)))))
  ;; gradientSums: sumDy64[c] += Σ g, sumDyX64[c] += Σ g·(x − mean64[c])·inverseStd64[c], g masked.
  (func (export "gradientSums")
    (param $g i32) (param $data i32) (param $end i32) (param $channels i32) (param $scale32 i32) (param $shift32 i32) (param $relu i32)
    (param $mean64 i32) (param $inverseStd64 i32) (param $sumDy64 i32) (param $sumDyX64 i32)
    (local $rowBytes i32) (local $c i32) (local $c64 i32) (local $gv v128) (local $x v128) (local $glo v128) (local $ghi v128)
    (local.set $rowBytes (i32.shl (local.get $channels) (i32.const 2)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $data) (local.get $end)))
        (local.set $c (i32.const 0))
        (loop $columns
          (local.set $c64 (i32.shl (local.get $c) (i32.const 1)))
          (local.set $gv (call $masked (i32.add (local.get $g) (local.get $c)) (i32.add (local.get $data) (local.get $c)) (local.get $c) (local.get $scale32) (local.get $shift32) (local.get $relu)))
          (local.set $x (v128.load (i32.add (local.get $data) (local.get $c))))
          (local.set $glo (f64x2.promote_low_f32x4 (local.get $gv)))
          (local.set $ghi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $gv) (local.get $gv))))
          (call $accumulate64 (i32.add (local.get $sumDy64) (local.get $c64)) (local.get $glo) (local.get $ghi))
          (call $accumulate64 (i32.add (local.get $sumDyX64) (local.get $c64))
            (f64x2.mul (local.get $glo)
              (f64x2.mul
                (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (v128.load (i32.add (local.get $mean64) (local.get $c64))))
                (v128.load (i32.add (local.get $inverseStd64) (local.get $c64)))))
            (f64x2.mul (local.get $ghi)
              (f64x2.mul
                (f64x2.sub
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))
                  (v128.load offset=16 (i32.add (local.get $mean64) (local.get $c64))))
                (v128.load offset=16 (i32.add (local.get $inverseStd64) (local.get $c64))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $columns (i32.lt_u (local.get $c) (local.get $rowBytes))))
        (local.set $data (i32.add (local.get $data) (local.get $rowBytes)))
        (local.set $g (i32.add (local.get $g) (local.get $rowBytes)))
        (br $rows))))
  ;; inputGradient: dx = scale32[c]·(g − meanDy32[c] − (x − mean32[c])·slope32[c]), g masked, where
  ;; meanDy = Σg/n and slope = Σg·x̂/n · 1/σ.
  (func (export "inputGradient")
    (param $dx i32) (param $g i32) (param $data i32) (param $end i32) (param $channels i32) (param $scale32 i32) (param $shift32 i32) (param $relu i32)
    (param $mean32 i32) (param $meanDy32 i32) (param $slope32 i32)
    (local $rowBytes i32) (local $c i32)
    (local.set $rowBytes (i32.shl (local.get $channels) (i32.const 2)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $data) (local.get $end)))
        (local.set $c (i32.const 0))
        (loop $columns
          (v128.store (i32.add (local.get $dx) (local.get $c))
            (f32x4.mul (v128.load (i32.add (local.get $scale32) (local.get $c)))
              (f32x4.sub
                (f32x4.sub
                  (call $masked (i32.add (local.get $g) (local.get $c)) (i32.add (local.get $data) (local.get $c)) (local.get $c) (local.get $scale32) (local.get $shift32) (local.get $relu))
                  (v128.load (i32.add (local.get $meanDy32) (local.get $c))))
                (f32x4.mul
                  (f32x4.sub (v128.load (i32.add (local.get $data) (local.get $c))) (v128.load (i32.add (local.get $mean32) (local.get $c))))
                  (v128.load (i32.add (local.get $slope32) (local.get $c)))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $columns (i32.lt_u (local.get $c) (local.get $rowBytes))))
        (local.set $data (i32.add (local.get $data) (local.get $rowBytes)))
        (local.set $g (i32.add (local.get $g) (local.get $rowBytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (br $rows))))
  ;; gemm: C = A·B in float32. A [m, k] is read through byte strides: its rows in groups of four
  ;; aGroup apart, aRow between the rows of a group, aCol between columns (a row-major A has
  ;; aGroup = 4·aRow; a transposed one is first copied into groups of [k][4] floats, which a tile
  ;; reads in order). B is packed by packPanels into panels of 8 columns; C [m, n] is written with
  ;; cRow bytes between rows. Tiles of 4 rows × 8 columns are kept in eight vector registers, each
  ;; sum taken in the order of k; the rows beyond a multiple of 4 one at a time.
  (func (export "gemm")
    (param $a i32) (param $aGroup i32) (param $aRow i32) (param $aCol i32) (param $panels i32) (param $c i32) (param $cRow i32)
    (param $m i32) (param $n i32) (param $k i32)
    (local $column i32) (local $width i32) (local $panel i32) (local $row i32) (local $ak i32) (local $bk i32) (local $left i32) (local $out i32)
    (local $aRow2 i32) (local $aRow3 i32) (local $cRow2 i32) (local $cRow3 i32) (local $fullRows i32)
    (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $aRow2 (i32.shl (local.get $aRow) (i32.const 1)))
    (local.set $aRow3 (i32.add (local.get $aRow2) (local.get $aRow)))
    (local.set $cRow2 (i32.shl (local.get $cRow) (i32.const 1)))
    (local.set $cRow3 (i32.add (local.get $cRow2) (local.get $cRow)))
    (local.set $fullRows (i32.and (local.get $m) (i32.const -4)))
    (local.set $panel (local.get $panels))
    (block $columnsDone
      (loop $columns
        (br_if $columnsDone (i32.ge_u (local.get $column) (local.get $n)))
        (local.set $width (i32.sub (local.get $n) (local.get $column)))
        (local.set $row (i32.const 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.ge_u (local.get $row) (local.get $fullRows)))
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0)) (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0)) (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $ak (i32.add (local.get $a) (i32.mul (i32.shr_u (local.get $row) (i32.const 2)) (local.get $aGroup))))
            (local.set $bk (local.get $panel))
            (local.set $left (local.get $k))
            (block $quadDone
              (loop $quad
                (br_if $quadDone (i32.eqz (local.get $left)))
                (local.set $b0 (v128.load (local.get $bk)))
                (local.set $b1 (v128.load offset=16 (local.get $bk)))
                (local.set $x (v128.load32_splat (local.get $ak)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (i32.add (local.get $ak) (local.get $aRow))))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (i32.add (local.get $ak) (local.get $aRow2))))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (i32.add (local.get $ak) (local.get $aRow3))))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                (local.set $bk (i32.add (local.get $bk) (i32.const 32)))
                (local.set $left (i32.sub (local.get $left) (i32.const 1)))
                (br $quad)))
            (local.set $out (i32.add (local.get $c) (i32.add (i32.mul (local.get $row) (local.get $cRow)) (i32.shl (local.get $column) (i32.const 2)))))
            (call $storeLanes (local.get $out) (local.get $c00) (local.get $c01) (local.get $width))
            (call $storeLanes (i32.add (local.get $out) (local.get $cRow)) (local.get $c10) (local.get $c11) (local.get $width))
            (call $storeLanes (i32.add (local.get $out) (local.get $cRow2)) (local.get $c20) (local.get $c21) (local.get $width))
            (call $storeLanes (i32.add (local.get $out) (local.get $cRow3)) (local.get $c30) (local.get $c31) (local.get $width))
            (local.set $row (i32.add (local.get $row) (i32.const 4)))
            (br $quads)))
        (block $singlesDone
          (loop $singles
            (br_if $singlesDone (i32.ge_u (local.get $row) (local.get $m)))
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $ak
              (i32.add (local.get $a)
                (i32.add (i32.mul (i32.shr_u (local.get $row) (i32.const 2)) (local.get $aGroup))
                  (i32.mul (i32.and (local.get $row) (i32.const 3)) (local.get $aRow)))))
            (local.set $bk (local.get $panel))
            (local.set $left (local.get $k))
            (block $singleDone
              (loop $single
                (br_if $singleDone (i32.eqz (local.get $left)))
                (local.set $x (v128.load32_splat (local.get $ak)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (v128.load (local.get $bk)))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $bk)))))
                (local.set $ak (i32.add (local.get $ak) (local.get $aCol)))
                (local.set $bk (i32.add (local.get $bk) (i32.const 32)))
                (local.set $left (i32.sub (local.get $left) (i32.const 1)))
                (br $single)))
            (local.set $out (i32.add (local.get $c) (i32.add (i32.mul (local.get $row) (local.get $cRow)) (i32.shl (local.get $column) (i32.const 2)))))
            (call $storeLanes (local.get $out) (local.get $c00) (local.get $c01) (local.get $width))
            (local.set $row (i32.add (local.get $row) (i32.const 1)))
            (br $singles)))
        (local.set $panel (i32.add (local.get $panel) (i32.shl (local.get $k) (i32.const 5))))
        (local.set $column (i32.add (local.get $column) (i32.const 8)))
        (br $columns))))
  ;; storeLanes: the first min(count, 8) lanes of lo, hi to at (a panel's last, partial tile row).
  (func $storeLanes (param $at i32) (param $lo v128) (param $hi v128) (param $count i32)
    (if (i32.ge_u (local.get $count) (i32.const 8))
      (then (v128.store (local.get $at) (local.get $lo)) (v128.store offset=16 (local.get $at) (local.get $hi)) (return)))
    (if (i32.gt_u (local.get $count) (i32.const 0)) (then (f32.store (local.get $at) (f32x4.extract_lane 0 (local.get $lo)))))
    (if (i32.gt_u (local.get $count) (i32.const 1)) (then (f32.store offset=4 (local.get $at) (f32x4.extract_lane 1 (local.get $lo)))))
    (if (i32.gt_u (local.get $count) (i32.const 2)) (then (f32.store offset=8 (local.get $at) (f32x4.extract_lane 2 (local.get $lo)))))
    (if (i32.gt_u (local.get $count) (i32.const 3)) (then (f32.store offset=12 (local.get $at) (f32x4.extract_lane 3 (local.get $lo)))))
    (if (i32.gt_u (local.get $count) (i32.const 4)) (then (f32.store offset=16 (local.get $at) (f32x4.extract_lane 0 (local.get $hi)))))
    (if (i32.gt_u (local.get $count) (i32.const 5)) (then (f32.store offset=20 (local.get $at) (f32x4.extract_lane 1 (local.get $hi)))))
    (if (i32.gt_u (local.get $count) (i32.const 6)) (then (f32.store offset=24 (local.get $at) (f32x4.extract_lane 2 (local.get $hi))))))
  ;; packPanels: B [k, n], read through byte strides (bRow between rows, bCol between columns), as
  ;; ceil(n/8) panels of [k][8] floats panelStride bytes apart, the columns beyond n zero: what gemm
  ;; reads. (Called on blocks of B's rows, so that the rows a panel reads stay in cache for the next.)
  (func (export "packPanels")
    (param $panels i32) (param $panelStride i32) (param $b i32) (param $bRow i32) (param $bCol i32) (param $k i32) (param $n i32)
    (local $column i32) (local $lane i32) (local $row i32) (local $from i32) (local $to i32)
    (block $columnsDone
      (loop $columns
        (br_if $columnsDone (i32.ge_u (local.get $column) (local.get $n)))
        (local.set $to (i32.add (local.get $panels) (i32.mul (i32.shr_u (local.get $column) (i32.const 3)) (local.get $panelStride))))
        (local.set $row (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $k)))
            (local.set $from (i32.add (local.get $b) (i32.add (i32.mul (local.get $row) (local.get $bRow)) (i32.mul (local.get $column) (local.get $bCol)))))
            (if (i32.and (i32.eq (local.get $bCol) (i32.const 4)) (i32.le_u (i32.add (local.get $column) (i32.const 8)) (local.get $n)))
              (then
                (v128.store (local.get $to) (v128.load (local.get $from)))
                (v128.store offset=16 (local.get $to) (v128.load offset=16 (local.get $from))))
              (else
                (local.set $lane (i32.const 0))
                (loop $lanes
                  (if (i32.lt_u (i32.add (local.get $column) (local.get $lane)) (local.get $n))
                    (then (f32.store (local.get $to) (f32.load (local.get $from))))
                    (else (f32.store (local.get $to) (f32.const 0))))
                  (local.set $from (i32.add (local.get $from) (local.get $bCol)))
                  (local.set $to (i32.add (local.get $to) (i32.const 4)))
                  (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
                  (br_if $lanes (i32.lt_u (local.get $lane) (i32.const 8))))
                (local.set $to (i32.sub (local.get $to) (i32.const 32)))))
            (local.set $to (i32.add (local.get $to) (i32.const 32)))
            (local.set $row (i32.add (local.get $row) (i32.const 1)))
            (br $rows)))
        (local.set $column (i32.add (local.get $column) (i32.const 8)))
        (br $columns))))
)
