use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "x/{id}", form)]
    fn call(&self, extra: u8) -> Result<(), Error>;
}

// The trait is still emitted, so code using it raises no further error.
fn _uses<T: Api>(_: &T) {}

fn main() {}
