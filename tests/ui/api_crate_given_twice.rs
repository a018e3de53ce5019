use fintecture_oauth::{Error, api};

#[api(crate = fintecture_oauth, crate = fintecture_oauth)]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
