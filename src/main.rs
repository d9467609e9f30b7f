fn main() {
    std::process::exit(troika::app::main());
}
