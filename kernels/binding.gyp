{
  "targets": [
    {
      "target_name": "tandem_kernels",
      "sources": [
        "src/addon.cc",
        "src/addon_ops.cc",
        "src/addon_model.cc",
        "src/cpu_features.cc",
        "src/thread_pool.cc",
        "src/kernel_table.cc",
        "src/kernels_scalar.cc",
        "src/kernels_avx2.cc",
        "src/kernels_avx512.cc",
        "src/kernels_avx512bf16.cc",
        "src/ops.cc",
        "src/text_model.cc",
        "src/vl_ops.cc",
        "src/vl_text_model.cc",
        "src/vision_model.cc",
        "src/addon_vision.cc",
        "src/kv_cache.cc",
        "src/probes.cc",
        "src/quant_weights.cc",
        "src/addon_quant.cc",
        "src/quantize_model.cc",
        "src/quant_scalar.cc",
        "src/quant_avx2.cc",
        "src/quant_avx512.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-pthread", "-Wno-uninitialized", "-Wno-maybe-uninitialized"],
      "ldflags": ["-pthread"]
    }
  ],
  "variables": {
    "tandem_with_ucx%": "<!(node -p \"process.env.TANDEM_UCX === '0' ? 0 : +['/usr/include', '/usr/local/include'].some((d) => require('fs').existsSync(d + '/ucp/api/ucp.h'))\")"
  },
  "conditions": [
    ["tandem_with_ucx==1", {
      "targets": [
        {
          "target_name": "tandem_ucx",
          "sources": ["src/ucx_engine.cc", "src/ucx_binding.cc"],
          "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
          "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "TANDEM_WITH_UCX"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"],
          "cflags_cc": ["-std=c++17", "-O2", "-pthread"],
          "ldflags": ["-pthread"],
          "libraries": ["-lucp", "-lucs"]
        }
      ]
    }]
  ]
}
