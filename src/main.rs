fn main() {
    std::process::exit(troika::main());
}
