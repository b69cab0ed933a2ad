# Thin wrapper over CMake. The two commands a newcomer needs: `make run`, `make test`.
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-asan

.PHONY: all build run test bench fuzz format clean

all: build

build:
	scripts/bootstrap build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/omniroute

test:
	scripts/bootstrap test
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOR_SANITIZE=ON >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	scripts/bootstrap bench
	bench/run.sh ./$(BUILD)/omniroute

# libFuzzer builds of every parser target (clang); `make test` replays their corpora instead.
fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DOR_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS)

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) build-fuzz
