#define LM_VERSION "0.1.0"
