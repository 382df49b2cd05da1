// Tensor-core matrix products as kernels use them, run on the simulator
// (mm-sim-kernel-matrix.test): an NVIDIA warp loads its fragments with
// ldmatrix from shared memory and multiplies with mma.sync m16n8k16; an AMD
// wavefront loads its fragments from global memory and multiplies with
// mfma 16x16x16. The inputs are f32 buffers, rounded to f16 on the way.
module attributes {gpu.container_module} {
  gpu.module @matrix {
    gpu.func @mma_m16n8k16(%a: memref<16x16xf32>, %b: memref<16x8xf32>,
                           %d: memref<16x8xf32>)
        workgroup(%sa: memref<16x16xf16, #gpu.address_space<workgroup>>,
                  %sb: memref<16x8xf16, #gpu.address_space<workgroup>>)
        kernel {
      %c0 = arith.constant 0 : index
      %c2 = arith.constant 2 : index
      %c4 = arith.constant 4 : index
      %c8 = arith.constant 8 : index
      %c16 = arith.constant 16 : index
      %c32 = arith.constant 32 : index
      %c128 = arith.constant 128 : index
      %c256 = arith.constant 256 : index
      %tid = gpu.thread_id x
      scf.for %i = %tid to %c256 step %c32 {
        %r = arith.divui %i, %c16 : index
        %c = arith.remui %i, %c16 : index
        %x = memref.load %a[%r, %c] : memref<16x16xf32>
        %h = arith.truncf %x : f32 to f16
        memref.store %h, %sa[%r, %c] : memref<16x16xf16, #gpu.address_space<workgroup>>
      }
      scf.for %i = %tid to %c128 step %c32 {
        %r = arith.divui %i, %c8 : index
        %c = arith.remui %i, %c8 : index
        %x = memref.load %b[%r, %c] : memref<16x8xf32>
        %h = arith.truncf %x : f32 to f16
        memref.store %h, %sb[%r, %c] : memref<16x8xf16, #gpu.address_space<workgroup>>
      }
      gpu.barrier
      // A: lane l gives row l % 16 of the left (l < 16) or right 8 columns.
      %arow = arith.remui %tid, %c16 : index
      %half = arith.divui %tid, %c16 : index
      %acol = arith.muli %half, %c8 : index
      %fa = nvgpu.ldmatrix %sa[%arow, %acol] {numTiles = 4 : i32, transpose = false}
          : memref<16x16xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
      // B, k-major in shared memory: two 8x8 tiles, transposed on the way.
      %fb = nvgpu.ldmatrix %sb[%arow, %c0] {numTiles = 2 : i32, transpose = true}
          : memref<16x8xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
      %fc = arith.constant dense<0.0> : vector<2x2xf32>
      %fd = nvgpu.mma.sync (%fa, %fb, %fc) {mmaShape = [16, 8, 16]}
          : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
      // D: lane l holds rows l / 4 and l / 4 + 8, columns 2 (l % 4) + {0, 1}.
      %c1 = arith.constant 1 : index
      %row0 = arith.divui %tid, %c4 : index
      %row1 = arith.addi %row0, %c8 : index
      %quad = arith.remui %tid, %c4 : index
      %col0 = arith.muli %quad, %c2 : index
      %col1 = arith.addi %col0, %c1 : index
      %d00 = vector.extract %fd[0, 0] : f32 from vector<2x2xf32>
      %d01 = vector.extract %fd[0, 1] : f32 from vector<2x2xf32>
      %d10 = vector.extract %fd[1, 0] : f32 from vector<2x2xf32>
      %d11 = vector.extract %fd[1, 1] : f32 from vector<2x2xf32>
      memref.store %d00, %d[%row0, %col0] : memref<16x8xf32>
      memref.store %d01, %d[%row0, %col1] : memref<16x8xf32>
      memref.store %d10, %d[%row1, %col0] : memref<16x8xf32>
      memref.store %d11, %d[%row1, %col1] : memref<16x8xf32>
      gpu.return
    }

    gpu.func @mfma_16x16x16(%a: memref<16x16xf32>, %b: memref<16x16xf32>,
                            %d: memref<16x16xf32>) kernel {
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c3 = arith.constant 3 : index
      %c4 = arith.constant 4 : index
      %c16 = arith.constant 16 : index
      %tid = gpu.thread_id x
      // Lane l: row l % 16 of A and column l % 16 of B at k = 4 (l / 16) to
      // 4 (l / 16) + 3; D: column l % 16, rows 4 (l / 16) to 4 (l / 16) + 3.
      %i = arith.remui %tid, %c16 : index
      %group = arith.divui %tid, %c16 : index
      %k0 = arith.muli %group, %c4 : index
      %k1 = arith.addi %k0, %c1 : index
      %k2 = arith.addi %k0, %c2 : index
      %k3 = arith.addi %k0, %c3 : index
      %a0 = memref.load %a[%i, %k0] : memref<16x16xf32>
      %a1 = memref.load %a[%i, %k1] : memref<16x16xf32>
      %a2 = memref.load %a[%i, %k2] : memref<16x16xf32>
      %a3 = memref.load %a[%i, %k3] : memref<16x16xf32>
      %b0 = memref.load %b[%k0, %i] : memref<16x16xf32>
      %b1 = memref.load %b[%k1, %i] : memref<16x16xf32>
      %b2 = memref.load %b[%k2, %i] : memref<16x16xf32>
      %b3 = memref.load %b[%k3, %i] : memref<16x16xf32>
      %va = vector.from_elements %a0, %a1, %a2, %a3 : vector<4xf32>
      %vb = vector.from_elements %b0, %b1, %b2, %b3 : vector<4xf32>
      %ha = arith.truncf %va : vector<4xf32> to vector<4xf16>
      %hb = arith.truncf %vb : vector<4xf32> to vector<4xf16>
      %zero = arith.constant dense<0.0> : vector<4xf32>
      %vd = amdgpu.mfma 16x16x16 %ha * %hb + %zero blgp = none
          : vector<4xf16>, vector<4xf16>, vector<4xf32>
      %d0 = vector.extract %vd[0] : f32 from vector<4xf32>
      %d1 = vector.extract %vd[1] : f32 from vector<4xf32>
      %d2 = vector.extract %vd[2] : f32 from vector<4xf32>
      %d3 = vector.extract %vd[3] : f32 from vector<4xf32>
      memref.store %d0, %d[%k0, %i] : memref<16x16xf32>
      memref.store %d1, %d[%k1, %i] : memref<16x16xf32>
      memref.store %d2, %d[%k2, %i] : memref<16x16xf32>
      memref.store %d3, %d[%k3, %i] : memref<16x16xf32>
      gpu.return
    }
  }
}
