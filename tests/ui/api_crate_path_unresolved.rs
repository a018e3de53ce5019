use fintecture_oauth::{Error, api};

#[api(crate = not_a_crate)]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
